"""ReRAM (1T1R): multi-level cells programmed by write-verify, row-wise with limited parallel columns.

A weight of B bits occupies C = ceil(B / b) cells of b = ``bits_per_cell`` bits (cell k holds bits
k*b .. k*b+b-1). Programming a cell takes I = ``write_verify_iterations`` iterations, each one
SET or RESET pulse plus one verify read (docs/devices.md#reram-defaults):

  E = n_c * I * (E_pulse + E_rd) + n_v * E_rd
  T = ceil(n_c / D) * I * (t_pulse + t_rd) + ceil(n_v / D) * t_rd

n_c cells programmed (``all``: every cell of every updated weight; ``diff``: cells whose level
changes), n_v cells verify-read first (``diff`` only), D = ``write_drivers`` parallel columns,
t_pulse = max(SET, RESET) pulse width. SET and RESET are priced alike (T1 gives one energy for
both). Wear is counted in pulses: a programmed cell wears by I.
"""

from __future__ import annotations

import numpy as np

from imcsim.config.device_card import (
    BitsPerCellParam,
    CommonParams,
    CountParam,
    FractionParam,
    MramOptions,
    PositiveParam,
    param_field,
)
from imcsim.device.base import DeviceModel, WriteCost, WriteEvents
from imcsim.device.registry import register


class ReramParams(CommonParams):
    """Card parameters of a 1T1R ReRAM cell."""

    bits_per_cell: BitsPerCellParam = param_field("1", "bits stored per multi-level cell (1-4)")
    program_pulse_energy_pj: PositiveParam = param_field("pJ", "one SET or RESET pulse")
    set_pulse_ns: PositiveParam = param_field("ns", "SET pulse width")
    reset_pulse_ns: PositiveParam = param_field("ns", "RESET pulse width")
    set_voltage_v: PositiveParam = param_field("V", "SET voltage")
    reset_voltage_v: PositiveParam = param_field("V", "RESET voltage")
    write_verify_iterations: CountParam = param_field("1", "program pulse + verify read iterations per cell")
    r_on_kohm: PositiveParam = param_field("kOhm", "low-resistance state")
    on_off_ratio: PositiveParam = param_field("1", "R_off / R_on")
    c2c_sigma_frac: FractionParam = param_field("1", "cycle-to-cycle sigma as a fraction of the conductance range")
    d2d_sigma_frac: FractionParam = param_field("1", "device-to-device sigma as a fraction of the conductance range")


@register
class ReramModel(DeviceModel):
    """1T1R ReRAM with write-verify programming."""

    TECHNOLOGY = "reram"
    PARAMS = ReramParams
    OPTIONS = MramOptions
    TEST_VARIANTS = {"mlc2": {"bits_per_cell": 2}, "mlc3": {"bits_per_cell": 3}}

    def __init__(self, card) -> None:
        super().__init__(card)
        self.iterations = int(card.value("write_verify_iterations"))

    @property
    def bits_per_cell(self) -> int:
        return int(self.card.value("bits_per_cell"))

    def cells_per_weight(self, bits: int) -> int:
        return -(-bits // self.bits_per_cell)

    @property
    def pulse_ns(self) -> float:
        return max(self.card.value("set_pulse_ns"), self.card.value("reset_pulse_ns"))

    @property
    def cell_program_energy_pj(self) -> float:
        """I x (E_pulse + E_rd): one cell through all its write-verify iterations."""
        return self.iterations * (self.card.value("program_pulse_energy_pj") + self.cell_read_energy_pj)

    @property
    def batch_program_ns(self) -> float:
        """I x (t_pulse + t_rd): one batch of up to D cells programmed in parallel."""
        return self.iterations * (self.pulse_ns + self.read_latency_ns)

    def derived_figures(self) -> list[dict[str, object]]:
        return [
            {"name": "cell_program_energy_pj", "value": self.cell_program_energy_pj, "unit": "pJ",
             "formula": "write_verify_iterations x (program_pulse_energy_pj + "
                        "(read_energy_per_bit_fj + sense_amp_energy_fj) / 1000)"},
            {"name": "batch_program_ns", "value": self.batch_program_ns, "unit": "ns",
             "formula": "write_verify_iterations x (max(set_pulse_ns, reset_pulse_ns) + read_latency_ns)"},
            {"name": "cells_per_8bit_weight", "value": float(self.cells_per_weight(8)), "unit": "1",
             "formula": "ceil(8 / bits_per_cell)"},
        ]

    def _cell_levels(self, bitmat: np.ndarray, bits: int) -> np.ndarray:
        """Levels ``(n, C)`` of each weight's cells from its bit matrix ``(n, B)``."""
        b = self.bits_per_cell
        c = self.cells_per_weight(bits)
        padded = np.pad(bitmat.astype(np.int64), ((0, 0), (0, c * b - bits)))
        weights = (1 << np.arange(b, dtype=np.int64))
        return (padded.reshape(-1, c, b) * weights).sum(axis=2)

    def count_events(self, ob: np.ndarray, nb: np.ndarray, upd: np.ndarray, bits: int,
                     policy: str) -> WriteEvents:
        c = self.cells_per_weight(bits)
        n_upd = int(upd.sum())
        if policy == "all":
            return self._events(n_upd * c, 0)
        changed = self._cell_levels(ob[upd], bits) != self._cell_levels(nb[upd], bits)
        return self._events(int(changed.sum()), n_upd * c)

    def expected_events(self, n_weights: float, bits: int, policy: str, flip_prob: float,
                        run_weights: int | None, ones_prob: float) -> WriteEvents:
        c = self.cells_per_weight(bits)
        if policy == "all":
            return self._events(n_weights * c, 0.0)
        b = self.bits_per_cell
        sizes = [min(b, bits - k * b) for k in range(c)]  # bits held by each cell of a weight
        p_change = sum(1.0 - (1.0 - flip_prob) ** s for s in sizes)
        return self._events(n_weights * p_change, n_weights * c)

    def _events(self, programmed: float, verify: float) -> WriteEvents:
        return WriteEvents(write_units=programmed, pulses=programmed * self.iterations, verify_reads=verify,
                           cells_written=programmed,
                           max_cell_wear=float(self.iterations) if programmed > 0 else 0.0)

    def price(self, ev: WriteEvents, policy: str) -> WriteCost:
        return self._write_cost(ev, ev.write_units * self.cell_program_energy_pj, self.batch_program_ns,
                                ev.verify_reads)
