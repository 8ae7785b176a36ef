"""The PCM model, added through the technology registry (one model module + one card), hand-checked."""
from __future__ import annotations

import numpy as np
import pytest

from imcsim.config.device_card import technology_names
from imcsim.device import load_device
from imcsim.device.registry import technologies

# Card values: SET 150 uA x 150 ns, RESET 300 uA x 40 ns at 1.0 V; set-up 0.5 ns; 16 drivers;
# read 40 fJ + 0.7 fJ latch = 0.0407 pJ per verify read, 5 ns.
E_SET_PJ = 1.0 * 150 * 150 * 1e-3      # V x uA x ns = fJ -> 22.5 pJ
E_RESET_PJ = 1.0 * 300 * 40 * 1e-3     # 12.0 pJ
STEP_NS = max(150, 40) + 0.5           # 150.5 ns per parallel write step
E_RD_PJ = (40 + 0.7) * 1e-3


@pytest.fixture(scope="module")
def pcm():
    return load_device("pcm")


def test_registered_in_one_place():
    assert "pcm" in technologies() and "pcm" in technology_names()
    assert type(load_device("pcm")).__name__ == "PcmModel"


def test_set_and_reset_by_the_value_written(pcm):
    # 2-bit weight 0b00 -> 0b01: under "all" bit 0 is SET (ends 1) and bit 1 is RESET (ends 0)
    c = pcm.write(np.array([0]), np.array([1]), bits=2, policy="all", signed=False)
    assert c.pulses == 2 and c.cells_written == 2 and c.max_cell_wear == 1
    assert c.energy_pj == pytest.approx(E_SET_PJ + E_RESET_PJ)          # 34.5 pJ
    assert c.latency_ns == pytest.approx(STEP_NS)                       # 2 bits <= 16 drivers: one step
    # "diff" reads both bits, then writes only the flipped one (a SET)
    d = pcm.write(np.array([0]), np.array([1]), bits=2, policy="diff", signed=False)
    assert d.pulses == 1 and d.verify_reads == 2
    assert d.energy_pj == pytest.approx(E_SET_PJ + 2 * E_RD_PJ)         # 22.5814 pJ
    assert d.latency_ns == pytest.approx(STEP_NS + 5.0)                 # one write step + one read step


def test_closed_form(pcm):
    # 10 weights x 8 bits under "all", stored ones q = 0.5, flips p = 0.5: half the 80 bits end as 1
    c = pcm.expected_write(10, bits=8, policy="all")
    assert c.energy_pj == pytest.approx(40 * E_SET_PJ + 40 * E_RESET_PJ)  # 1380 pJ
    assert c.latency_ns == pytest.approx(5 * STEP_NS)                   # ceil(80 / 16) = 5 steps
    # "diff" at p = 0.25, q = 0.25: 20 flipped bits, 3/4 of them end as 1; 80 verify reads
    d = pcm.expected_write(10, bits=8, policy="diff", flip_prob=0.25, ones_prob=0.25)
    assert d.pulses == pytest.approx(20)
    assert d.energy_pj == pytest.approx(15 * E_SET_PJ + 5 * E_RESET_PJ + 80 * E_RD_PJ)
    assert not pcm.closed_form_exact_for_all  # SET and RESET differ: equal in expectation only


def test_lifetime_counts_written_cells(pcm):
    # endurance 1e8, 1000 worst-cell writes a day: 1e8 / (1000 x 365.25) = 273.8 years
    assert pcm.lifetime_years(1000) == pytest.approx(1e8 / (1000 * 365.25))
