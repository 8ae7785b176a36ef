"""SAS-MRAM: N MTJs on one shared heavy-metal (SOT) line, written group by group (docs/devices.md#sas-mram-defaults).

One SOT pulse on the shared line destabilises all N free layers; an STT-assist current through each
MTJ sets its final state. So the group is the write unit:

  one_step:  E_group = E_SOT + L * E_STT            (every live MTJ of the group is assisted)
  two_step:  E_group = 2 E_SOT + k * E_STT          (reset all, then assist the k live bits that are 1)
  E_SOT = V_sot I_sot t_p,  E_STT = V_stt I_stt t_p

A group holding live bits that are *not* being updated must read them first (read-modify-write);
those reads are counted as ``rmw_reads``. Which bits share a line is the ``bit_placement`` option:
``weight_bits`` (N consecutive bits of one weight; a weight's last group is padded, padding is not
live) or ``interleaved`` (bit j of N consecutive weights). Groups are written ``write_drivers`` at a
time; reads go ``write_drivers * N`` cells at a time.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from imcsim.config.device_card import (
    CommonParams,
    CountParam,
    MramOptions,
    NonNegParam,
    PositiveParam,
    param_field,
)
from imcsim.device.base import DeviceModel, WriteCost, WriteEvents
from imcsim.device.registry import register

# (number of groups, updated live bits u, preserved live bits q) of one group type
GroupType = tuple[float, int, int]


class SasMramParams(CommonParams):
    """Card parameters of an SAS-MRAM cell (with those every device has)."""

    mtj_per_line: CountParam = param_field("1", "MTJs sharing one heavy-metal (SOT) line = bits per write group")
    mtj_length_nm: PositiveParam = param_field("nm", "MTJ long axis")
    mtj_width_nm: PositiveParam = param_field("nm", "MTJ short axis")
    sot_pulse_ns: PositiveParam = param_field("ns", "SOT (and STT-assist) pulse width t_p")
    sot_current_ua: PositiveParam = param_field("uA", "SOT current in the shared line")
    sot_voltage_v: PositiveParam = param_field("V", "SOT drive voltage (line + shared transistor)")
    stt_assist_current_ua: NonNegParam = param_field("uA", "STT-assist current through each MTJ")
    stt_assist_voltage_v: NonNegParam = param_field("V", "STT-assist voltage")
    write_setup_ns: NonNegParam = param_field("ns", "driver set-up per write step")
    tmr_pct: PositiveParam = param_field("%", "tunnel magnetoresistance")


class SasMramOptions(MramOptions):
    """Options of the SAS-MRAM model."""

    write_scheme: Literal["one_step", "two_step"] = Field(
        "one_step", description="one SOT pulse with per-MTJ STT assist, or reset then program (A)")
    bit_placement: Literal["weight_bits", "interleaved"] = Field(
        "weight_bits", description="an SOT line holds bits of one weight, or bit j of N weights (A)")


@register
class SasMramModel(DeviceModel):
    """STT-assisted SOT-MRAM with ``mtj_per_line`` MTJs per shared SOT line."""

    TECHNOLOGY = "sas_mram"
    PARAMS = SasMramParams
    OPTIONS = SasMramOptions
    TEST_VARIANTS = {"interleaved": {"bit_placement": "interleaved"}, "two-step": {"write_scheme": "two_step"},
                     "two-step-interleaved": {"write_scheme": "two_step", "bit_placement": "interleaved"}}

    def __init__(self, card) -> None:
        super().__init__(card)
        self.mtj_per_line = int(card.value("mtj_per_line"))
        self.write_scheme = card.options.write_scheme
        self.bit_placement = card.options.bit_placement

    @property
    def closed_form_exact_for_all(self) -> bool:
        return self.write_scheme == "one_step"  # two-step assists only the bits that end as 1

    # ---- figures ---------------------------------------------------------------------------

    @property
    def sot_pulse_energy_fj(self) -> float:
        return self._pulse_energy_fj("sot_voltage_v", "sot_current_ua", "sot_pulse_ns")

    @property
    def stt_assist_energy_fj(self) -> float:
        return self._pulse_energy_fj("stt_assist_voltage_v", "stt_assist_current_ua", "sot_pulse_ns")

    @property
    def group_step_ns(self) -> float:
        pulses = 2 if self.write_scheme == "two_step" else 1
        return pulses * self.card.value("sot_pulse_ns") + self.card.value("write_setup_ns")

    @property
    def read_parallel_cells(self) -> int:
        return self.write_drivers * self.mtj_per_line

    def derived_figures(self) -> list[dict[str, object]]:
        n = self.mtj_per_line
        group = self.sot_pulse_energy_fj + n * self.stt_assist_energy_fj
        return [
            {"name": "sot_pulse_energy_fj", "value": self.sot_pulse_energy_fj, "unit": "fJ",
             "formula": "sot_voltage_v x sot_current_ua x sot_pulse_ns"},
            {"name": "stt_assist_energy_fj", "value": self.stt_assist_energy_fj, "unit": "fJ",
             "formula": "stt_assist_voltage_v x stt_assist_current_ua x sot_pulse_ns"},
            {"name": "group_write_energy_fj", "value": group, "unit": "fJ",
             "formula": f"one_step: sot_pulse_energy_fj + {n} x stt_assist_energy_fj"},
            {"name": "write_energy_per_bit_fj", "value": group / n, "unit": "fJ",
             "formula": f"group_write_energy_fj / {n}"},
            {"name": "group_step_ns", "value": self.group_step_ns, "unit": "ns",
             "formula": f"{self.write_scheme}: pulses x sot_pulse_ns + write_setup_ns"},
        ]

    def four_bit_write(self, policy: str | None = None, flip_prob: float = 0.5) -> WriteCost:
        if self.bit_placement == "interleaved":
            return self.expected_write(4, bits=1, policy=policy, flip_prob=flip_prob)
        return self.expected_write(1, bits=4, policy=policy, flip_prob=flip_prob)

    # ---- counting --------------------------------------------------------------------------

    def _groups(self, ob: np.ndarray, nb: np.ndarray, upd: np.ndarray, bits: int):
        """Per-group arrays ``(groups, N)``: live, updated, old bit, new bit."""
        n, N = ob.shape[0], self.mtj_per_line
        live = np.ones_like(ob, dtype=bool)
        updb = np.broadcast_to(upd[:, None], ob.shape)
        if self.bit_placement == "weight_bits":
            g = -(-bits // N)
            pad = ((0, 0), (0, g * N - bits))
            arrays = [np.pad(a, pad) for a in (live, updb, ob, nb)]
            return [a.reshape(n * g, N) for a in arrays]
        m = -(-n // N) * N
        pad = ((0, m - n), (0, 0))
        arrays = [np.pad(a, pad) for a in (live, updb, ob, nb)]
        return [a.reshape(m // N, N, bits).transpose(0, 2, 1).reshape(-1, N) for a in arrays]

    def count_events(self, ob: np.ndarray, nb: np.ndarray, upd: np.ndarray, bits: int,
                     policy: str) -> WriteEvents:
        live, updb, o, w = self._groups(ob, nb, upd, bits)
        updated = live & updb
        flipped = updated & (o != w)
        final = np.where(updated, w, o).astype(bool) & live
        touched = updated.any(axis=1) if policy == "all" else flipped.any(axis=1)
        groups = int(touched.sum())
        live_bits = int(live[touched].sum())
        preserved = int((live & ~updated)[touched].sum())
        assists = int(final[touched].sum()) if self.write_scheme == "two_step" else live_bits
        verify = int(upd.sum()) * bits if policy == "diff" else 0
        return self._events(groups, assists, verify, preserved, live_bits)

    def _group_types(self, n_weights: float, bits: int, run_weights: int | None) -> list[GroupType]:
        N = self.mtj_per_line
        if self.bit_placement == "weight_bits":
            g = -(-bits // N)
            last = bits - N * (g - 1)
            return [(n_weights * (g - 1), N, 0), (n_weights, last, 0)]
        if n_weights != int(n_weights):
            raise ValueError(f"interleaved placement needs a whole number of weights, got {n_weights}")
        n = int(n_weights)
        if run_weights is None:  # the request is the whole region: its last line holds nothing else
            full, rem = divmod(n, N)
            return [(full * bits, N, 0), (bits if rem else 0, rem, 0)]
        runs, tail = divmod(n, run_weights)
        types: list[GroupType] = []
        for count, length in ((runs, run_weights), (1, tail)):
            if count == 0 or length == 0:
                continue
            full, rem = divmod(length, N)
            types.append((count * full * bits, N, 0))
            if rem:  # the run's last line is shared with live neighbours: read-modify-write
                types.append((count * bits, rem, N - rem))
        return types

    def expected_events(self, n_weights: float, bits: int, policy: str, flip_prob: float,
                        run_weights: int | None, ones_prob: float) -> WriteEvents:
        groups = assists = preserved = live_bits = 0.0
        for count, u, q in self._group_types(n_weights, bits, run_weights):
            if count == 0 or u == 0:
                continue
            p_write = 1.0 if policy == "all" else 1.0 - (1.0 - flip_prob) ** u
            written = count * p_write
            groups += written
            live_bits += written * (u + q)
            preserved += written * q
            ones = ones_prob if self.write_scheme == "two_step" else 1.0
            assists += written * (u + q) * ones
        verify = n_weights * bits if policy == "diff" else 0.0
        return self._events(groups, assists, verify, preserved, live_bits)

    def _events(self, groups: float, assists: float, verify: float, preserved: float,
                live_bits: float) -> WriteEvents:
        pulses_per_group = 2 if self.write_scheme == "two_step" else 1
        return WriteEvents(write_units=groups, pulses=groups * pulses_per_group, assist_bits=assists,
                           verify_reads=verify, rmw_reads=preserved, cells_written=live_bits,
                           max_cell_wear=1.0 if groups > 0 else 0.0)

    # ---- pricing ---------------------------------------------------------------------------

    def price(self, ev: WriteEvents, policy: str) -> WriteCost:
        energy_fj = ev.pulses * self.sot_pulse_energy_fj + ev.assist_bits * self.stt_assist_energy_fj
        return self._write_cost(ev, energy_fj * 1e-3, self.group_step_ns, ev.verify_reads + ev.rmw_reads)

