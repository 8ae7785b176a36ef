"""PCM (phase-change memory, 1T1R): one SET or RESET pulse per written bit.

A bit that ends as 1 (crystalline, low resistance) gets a SET pulse -- moderate current held long
enough to crystallise; a bit that ends as 0 (amorphous) gets a RESET pulse -- a short, high current
that melts and quenches the cell (docs/devices.md#pcm-defaults):

  E = n_set * V * I_set * t_set + n_reset * V * I_reset * t_reset + n_v * E_rd
  T = ceil(n_w / D) * (max(t_set, t_reset) + t_setup) + ceil(n_v / D) * t_rd

n_w = n_set + n_reset bits written (``all``: every bit of every updated weight; ``diff``: the flipped
ones), n_v bits verify-read first (``diff`` only), D = ``write_drivers``. In closed form a stored bit is
1 with probability q (``ones_prob``) and flips with p (``flip_prob``): under ``all`` a written bit ends
as 1 with q(1-p) + (1-q)p, under ``diff`` a flipped bit ends as 1 with 1-q. So the closed form equals
a data-driven write only in expectation (it depends on the values written). Wear: 1 per written cell.

This module is the whole technology: its card parameters, options and model, registered in one place
(``@register``), which the card validation, the library, the reference docs and the property tests read.
"""

from __future__ import annotations

import numpy as np

from imcsim.config.device_card import CommonParams, MramOptions, NonNegParam, PositiveParam, param_field
from imcsim.device.base import DeviceModel, WriteCost, WriteEvents
from imcsim.device.registry import register


class PcmParams(CommonParams):
    """Card parameters of a 1T1R phase-change cell (with those every device has)."""

    set_current_ua: PositiveParam = param_field("uA", "SET (crystallise) current")
    set_pulse_ns: PositiveParam = param_field("ns", "SET pulse width")
    reset_current_ua: PositiveParam = param_field("uA", "RESET (melt-quench) current")
    reset_pulse_ns: PositiveParam = param_field("ns", "RESET pulse width")
    write_voltage_v: PositiveParam = param_field("V", "voltage the write current is driven from")
    write_setup_ns: NonNegParam = param_field("ns", "driver set-up per write step")


@register
class PcmModel(DeviceModel):
    """Phase-change memory, 1T1R: a SET or a RESET pulse per written bit."""

    TECHNOLOGY = "pcm"
    PARAMS = PcmParams
    OPTIONS = MramOptions

    @property
    def set_energy_fj(self) -> float:
        return self._pulse_energy_fj("write_voltage_v", "set_current_ua", "set_pulse_ns")

    @property
    def reset_energy_fj(self) -> float:
        return self._pulse_energy_fj("write_voltage_v", "reset_current_ua", "reset_pulse_ns")

    @property
    def write_step_ns(self) -> float:
        v = self.card.value
        return max(v("set_pulse_ns"), v("reset_pulse_ns")) + v("write_setup_ns")

    @property
    def closed_form_exact_for_all(self) -> bool:
        return self.set_energy_fj == self.reset_energy_fj

    def count_events(self, ob: np.ndarray, nb: np.ndarray, upd: np.ndarray, bits: int,
                     policy: str) -> WriteEvents:
        new = nb[upd]
        if policy == "all":
            written, sets, verify = new.size, int(new.sum()), 0
        else:
            flipped = ob[upd] != new
            written, sets, verify = int(flipped.sum()), int((flipped & (new == 1)).sum()), new.size
        return _events(written, sets, verify)

    def expected_events(self, n_weights: float, bits: int, policy: str, flip_prob: float,
                        run_weights: int | None, ones_prob: float) -> WriteEvents:
        n_bits = n_weights * bits
        if policy == "all":
            ends_one = ones_prob * (1 - flip_prob) + (1 - ones_prob) * flip_prob
            return _events(n_bits, n_bits * ends_one, 0.0)
        flips = n_bits * flip_prob
        return _events(flips, flips * (1 - ones_prob), n_bits)

    def price(self, ev: WriteEvents, policy: str) -> WriteCost:
        resets = ev.pulses - ev.set_pulses
        write_pj = (ev.set_pulses * self.set_energy_fj + resets * self.reset_energy_fj) * 1e-3
        return self._write_cost(ev, write_pj, self.write_step_ns, ev.verify_reads)

    def derived_figures(self) -> list[dict[str, object]]:
        return [
            {"name": "set_energy_fj", "value": self.set_energy_fj, "unit": "fJ",
             "formula": "write_voltage_v x set_current_ua x set_pulse_ns"},
            {"name": "reset_energy_fj", "value": self.reset_energy_fj, "unit": "fJ",
             "formula": "write_voltage_v x reset_current_ua x reset_pulse_ns"},
            {"name": "write_step_ns", "value": self.write_step_ns, "unit": "ns",
             "formula": "max(set_pulse_ns, reset_pulse_ns) + write_setup_ns"},
        ]


def _events(written: float, sets: float, verify: float) -> WriteEvents:
    return WriteEvents(write_units=written, pulses=written, set_pulses=sets, verify_reads=verify,
                       cells_written=written, max_cell_wear=1.0 if written > 0 else 0.0)
