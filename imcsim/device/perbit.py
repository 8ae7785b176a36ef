"""Technologies that write one bit per pulse: SOT-MRAM (2T-1MTJ), STT-MRAM (1T-1MTJ) and SRAM.

Cost of a request (symbols in docs/devices.md):
  E = n_w * E_bit + n_v * E_rd,   T = ceil(n_w / D) * t_w + ceil(n_v / D) * t_rd
with n_w bits written (policy ``all``: every bit of every updated weight; ``diff``: the flipped ones),
n_v bits verify-read (``diff`` only), D the write-driver budget, E_rd = read + sense-amp energy.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from imcsim.config.device_card import CommonParams, MramOptions, NonNegParam, PositiveParam, param_field
from imcsim.device.base import DeviceModel, WriteCost, WriteEvents
from imcsim.device.registry import register


class PerBitMramParams(CommonParams):
    """Card parameters of an MRAM cell written by one current pulse per bit (SOT-MRAM, STT-MRAM)."""

    write_pulse_ns: PositiveParam = param_field("ns", "write pulse width")
    write_current_ua: PositiveParam = param_field("uA", "write current")
    write_voltage_v: PositiveParam = param_field("V", "write voltage")
    write_setup_ns: NonNegParam = param_field("ns", "driver set-up per write step")
    tmr_pct: PositiveParam = param_field("%", "tunnel magnetoresistance")


class SramParams(CommonParams):
    """Card parameters of the SRAM digital-IMC cell."""

    write_energy_per_bit_fj: PositiveParam = param_field("fJ", "write of one bit")
    write_latency_ns: PositiveParam = param_field("ns", "one write cycle")
    cell_area_6t_f2: PositiveParam = param_field("F2", "6T cell, for reference (the IMC cell is cell_area_f2)")


class PerBitModel(DeviceModel):
    """Shared counting and pricing of one-pulse-per-bit writes; subclasses give E_bit and t_w."""

    @property
    @abstractmethod
    def bit_write_energy_fj(self) -> float:
        """Energy of writing one bit."""

    @property
    @abstractmethod
    def bit_write_step_ns(self) -> float:
        """Time of one parallel write step."""

    def count_events(self, ob: np.ndarray, nb: np.ndarray, upd: np.ndarray, bits: int,
                     policy: str) -> WriteEvents:
        n_upd = int(upd.sum())
        if policy == "all":
            written, verify = n_upd * bits, 0
        else:
            written, verify = int((ob[upd] != nb[upd]).sum()), n_upd * bits
        return _events(written, verify)

    def expected_events(self, n_weights: float, bits: int, policy: str, flip_prob: float,
                        run_weights: int | None, ones_prob: float) -> WriteEvents:
        if policy == "all":
            return _events(n_weights * bits, 0.0)
        return _events(n_weights * bits * flip_prob, n_weights * bits)

    def price(self, ev: WriteEvents, policy: str) -> WriteCost:
        return self._write_cost(ev, ev.pulses * self.bit_write_energy_fj * 1e-3, self.bit_write_step_ns,
                                ev.verify_reads)

    def derived_figures(self) -> list[dict[str, object]]:
        return [
            {"name": "bit_write_energy_fj", "value": self.bit_write_energy_fj, "unit": "fJ",
             "formula": self._energy_formula},
            {"name": "bit_write_step_ns", "value": self.bit_write_step_ns, "unit": "ns",
             "formula": self._step_formula},
        ]

    _energy_formula = ""
    _step_formula = ""


def _events(written: float, verify: float) -> WriteEvents:
    return WriteEvents(write_units=written, pulses=written, verify_reads=verify, cells_written=written,
                       max_cell_wear=1.0 if written > 0 else 0.0)


class PulsedMramModel(PerBitModel):
    """MRAM written by one current pulse per bit: E_bit = V_w * I_w * t_p, t_w = t_p + t_setup."""

    _energy_formula = "write_voltage_v x write_current_ua x write_pulse_ns"
    _step_formula = "write_pulse_ns + write_setup_ns"

    @property
    def bit_write_energy_fj(self) -> float:
        return self._pulse_energy_fj("write_voltage_v", "write_current_ua", "write_pulse_ns")

    @property
    def bit_write_step_ns(self) -> float:
        return self.card.value("write_pulse_ns") + self.card.value("write_setup_ns")


@register
class SotMramModel(PulsedMramModel):
    """SOT-MRAM, 2T-1MTJ: one SOT pulse per bit through the cell's own heavy-metal line."""

    TECHNOLOGY = "sot_mram"
    PARAMS = PerBitMramParams
    OPTIONS = MramOptions


@register
class SttMramModel(PulsedMramModel):
    """STT-MRAM, 1T-1MTJ: one STT pulse per bit through the MTJ barrier."""

    TECHNOLOGY = "stt_mram"
    PARAMS = PerBitMramParams
    OPTIONS = MramOptions


@register
class SramModel(PerBitModel):
    """SRAM digital-IMC baseline: cheap writes, leakage per bit, no wear-out."""

    TECHNOLOGY = "sram"
    PARAMS = SramParams
    OPTIONS = MramOptions

    _energy_formula = "write_energy_per_bit_fj"
    _step_formula = "write_latency_ns"

    @property
    def bit_write_energy_fj(self) -> float:
        return self.card.value("write_energy_per_bit_fj")

    @property
    def bit_write_step_ns(self) -> float:
        return self.card.value("write_latency_ns")
