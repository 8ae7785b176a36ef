"""Device write models against hand-computed expectations (arithmetic in the comments).

Default card values used below (devices/*.yaml):
  sas-mram: V_sot 1.0 V, I_sot 250 uA, t_p 1 ns, V_stt 0.3 V, I_stt 39 uA, set-up 0.5 ns, 16 drivers,
            read 5 fJ + sense amp 0.7 fJ, read 1 ns, endurance 1e12, 47 F2
  sot-mram: 1.5 V, 200 uA, 1 ns, set-up 0.5 ns, 64 drivers
  reram:    pulse 0.6 pJ, SET/RESET 10 ns, 8 iterations, read 30 fJ + 0.7 fJ, read 10 ns, 16 columns
"""

import math

import numpy as np
import pytest

from imcsim.device import WriteCost, load_device

READ_SAS_FJ = 5 + 0.7  # read + sense amp, per cell
E_SOT_FJ = 1.0 * 250 * 1.0  # = 250 fJ
E_STT_FJ = 0.3 * 39 * 1.0  # = 11.7 fJ


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def test_sas_group_is_one_sot_pulse_plus_four_assists():
    sas = load_device("sas-mram")
    cost = sas.write(np.array([0]), np.array([0b1010]), bits=4, signed=False, policy="all")
    # E_group = E_SOT + 4 E_STT = 0.25 pJ + 4 x 0.0117 pJ = 0.2968 pJ
    assert cost.energy_pj == approx(0.25 + 4 * 0.0117)
    assert cost.pulses == 1 and cost.cells_written == 4 and cost.rmw_reads == 0
    assert cost.latency_ns == approx(1.0 + 0.5)  # t_p + set-up
    # The same figure from the card parameters, not constants.
    v = sas.card.value
    e_sot = v("sot_voltage_v") * v("sot_current_ua") * v("sot_pulse_ns")
    e_stt = v("stt_assist_voltage_v") * v("stt_assist_current_ua") * v("sot_pulse_ns")
    assert cost.energy_pj == approx((e_sot + 4 * e_stt) * 1e-3)


def test_sas_8bit_weight_is_two_groups_and_closed_form_agrees():
    sas = load_device("sas-mram")
    data = sas.write(np.array([-128]), np.array([127]), bits=8, policy="all")
    closed = sas.expected_write(1, bits=8, policy="all")
    # weight_bits placement: 8 bits = 2 full groups -> 2 x 296.8 fJ = 0.5936 pJ, both in one driver step
    assert data.energy_pj == approx(2 * (E_SOT_FJ + 4 * E_STT_FJ) * 1e-3) == closed.energy_pj
    assert data == closed


def test_partial_group_triggers_read_modify_write_and_costs_its_read():
    # interleaved: a line holds bit j of 4 consecutive weights. Updating weight 0 of 4 leaves 3 live
    # bits per line that must be read first: 8 lines (one per bit) x 3 reads = 24 reads.
    sas = load_device("sas-mram", {"bit_placement": "interleaved"})
    old = np.array([0, 5, -3, 7])
    new = np.array([1, 5, -3, 7])
    mask = np.array([True, False, False, False])
    cost = sas.write(old, new, bits=8, policy="all", mask=mask)
    assert cost.rmw_reads == 24 and cost.pulses == 8
    # 8 x (250 + 4 x 11.7) fJ + 24 x 5.7 fJ = 2374.4 + 136.8 = 2511.2 fJ
    assert cost.energy_pj == approx((8 * (E_SOT_FJ + 4 * E_STT_FJ) + 24 * READ_SAS_FJ) * 1e-3)
    # 8 groups <= 16 drivers: one 1.5 ns step; 24 reads <= 16 x 4 cells: one 1 ns read
    assert cost.latency_ns == approx(1.5 + 1.0)
    # weight_bits placement: the weight owns its 2 lines, no RMW at all
    own = load_device("sas-mram").write(old, new, bits=8, policy="all", mask=mask)
    assert own.rmw_reads == 0 and own.pulses == 2
    # the closed form with single-weight runs (each sharing its lines with neighbours) agrees
    closed = sas.expected_write(1, bits=8, policy="all", run_weights=1)
    assert closed == cost


def test_partial_tail_of_a_run_in_closed_form():
    # 6 weights in runs of 6 inside a larger array, interleaved: 1 full block (8 groups, no RMW) +
    # a tail of 2 weights (8 groups with 2 preserved neighbour bits each = 16 RMW reads)
    sas = load_device("sas-mram", {"bit_placement": "interleaved"})
    cost = sas.expected_write(6, bits=8, policy="all", run_weights=6)
    assert cost.pulses == 16 and cost.rmw_reads == 16
    # the same 6 weights as a whole region: the tail line holds nothing else, no RMW
    alone = sas.expected_write(6, bits=8, policy="all")
    assert alone.pulses == 16 and alone.rmw_reads == 0 and alone.cells_written == 6 * 8


def test_two_step_is_two_sot_pulses_plus_assists_on_ones():
    sas = load_device("sas-mram", {"write_scheme": "two_step"})
    cost = sas.write(np.array([0]), np.array([0b1011]), bits=4, signed=False, policy="all")
    # reset, then program the k = 3 bits that are 1: 2 x 250 + 3 x 11.7 = 535.1 fJ
    assert cost.energy_pj == approx((2 * E_SOT_FJ + 3 * E_STT_FJ) * 1e-3)
    assert cost.pulses == 2
    assert cost.latency_ns == approx(2 * 1.0 + 0.5)  # 2 t_p + set-up


def test_sas_diff_skips_unflipped_groups_and_pays_the_verify_read():
    sas = load_device("sas-mram")
    # 8-bit weight 0 -> 1: only the low group has a flipped bit
    cost = sas.write(np.array([0]), np.array([1]), bits=8, policy="diff")
    assert cost.pulses == 1 and cost.verify_reads == 8 and cost.rmw_reads == 0
    # 1 group (296.8 fJ) + 8 verify reads x 5.7 fJ = 342.4 fJ
    assert cost.energy_pj == approx((E_SOT_FJ + 4 * E_STT_FJ + 8 * READ_SAS_FJ) * 1e-3)
    all_ = sas.write(np.array([0]), np.array([1]), bits=8, policy="all")
    assert cost.energy_pj <= all_.energy_pj + cost.verify_reads * sas.cell_read_energy_pj


def test_write_drivers_serialise_groups():
    sas = load_device("sas-mram")
    # 100 four-bit weights = 100 groups at 16 per step: ceil(100/16) = 7 steps x 1.5 ns
    cost = sas.expected_write(100, bits=4, policy="all")
    assert cost.latency_ns == approx(7 * 1.5)
    sot = load_device("sot-mram")
    # 100 x 8 bits = 800 bit pulses at 64 per step: ceil(800/64) = 13 steps x (1 + 0.5) ns
    assert sot.expected_write(100, bits=8, policy="all").latency_ns == approx(13 * 1.5)


def test_sot_one_pulse_per_bit():
    sot = load_device("sot-mram")
    cost = sot.write(np.array([3, -4]), np.array([-1, 9]), bits=8, policy="all")
    # 16 bits x 1.5 V x 200 uA x 1 ns = 16 x 300 fJ = 4.8 pJ
    assert cost.energy_pj == approx(16 * 0.3) and cost.pulses == 16
    diff = sot.write(np.array([0]), np.array([-1]), bits=8, policy="diff")
    # 0 -> -1 (0xFF): 8 flips = 8 x 300 fJ, plus 8 verify reads x 5.7 fJ
    assert diff.pulses == 8 and diff.energy_pj == approx(8 * 0.3 + 8 * 5.7e-3)


def test_reram_energy_linear_in_verify_iterations():
    energies = []
    for iters in range(1, 21):
        dev = load_device("reram", {"write_verify_iterations": iters})
        energies.append(dev.write(np.array([0]), np.array([100]), bits=8, policy="all").energy_pj)
    steps = np.diff(energies)
    # each extra iteration = 8 cells x (0.6 pJ pulse + 0.0307 pJ verify read) = 5.0456 pJ
    assert steps == pytest.approx(np.full(19, 8 * (0.6 + 0.0307)), rel=1e-12)
    assert energies[0] == pytest.approx(8 * (0.6 + 0.0307), rel=1e-12)


def test_reram_default_program_cost_and_row_latency():
    rr = load_device("reram")
    cost = rr.expected_write(1, bits=8, policy="all")
    # 8 cells x 8 iterations x (0.6 + 0.0307) pJ = 40.3648 pJ; one batch of 8 <= 16 columns:
    # 8 x (10 ns pulse + 10 ns verify read) = 160 ns; wear = 8 pulses per cell
    assert cost.energy_pj == approx(40.3648)
    assert cost.latency_ns == approx(160.0)
    assert cost.pulses == 64 and cost.max_cell_wear == 8
    # 100 cells at 16 columns in parallel: ceil(100/16) = 7 batches x 160 ns
    assert rr.expected_write(100, bits=1, policy="all").latency_ns == approx(7 * 160.0)


def test_reram_mlc_cell_count():
    rr = load_device("reram", {"bits_per_cell": 3})
    assert rr.cells_per_weight(8) == 3  # ceil(8/3): cells hold bits 0-2, 3-5, 6-7
    cost = rr.write(np.array([0]), np.array([1]), bits=8, policy="all")
    assert cost.cells_written == 3 and cost.pulses == 3 * 8
    diff = rr.write(np.array([0]), np.array([1]), bits=8, policy="diff")
    assert diff.cells_written == 1 and diff.verify_reads == 3  # only cell 0 changes level
    # flipping bit 7 alone changes only the last (2-bit) cell
    diff7 = rr.write(np.array([0]), np.array([128]), bits=8, signed=False, policy="diff")
    assert diff7.cells_written == 1
    assert rr.area_per_bit_um2(28) == approx(rr.cell_area_um2(28) / 3)


def test_diff_never_costs_more_than_all_plus_verify_read():
    rng = np.random.default_rng(1)
    old = rng.integers(-128, 128, size=64)
    new = old.copy()
    new[::7] = rng.integers(-128, 128, size=new[::7].shape)
    for name in ("sas-mram", "sot-mram", "stt-mram", "reram", "sram"):
        dev = load_device(name)
        all_ = dev.write(old, new, policy="all")
        diff = dev.write(old, new, policy="diff")
        assert diff.energy_pj <= all_.energy_pj + diff.verify_reads * dev.cell_read_energy_pj + 1e-12


def test_lifetime_halves_when_writes_double():
    sas = load_device("sas-mram")
    # 1e12 cycles / (1e6 writes/day x 365.25 days) = 2737.85 years
    assert sas.lifetime_years(1e6) == approx(1e12 / (1e6 * 365.25))
    assert sas.lifetime_years(2e6) == approx(sas.lifetime_years(1e6) / 2)
    assert sas.lifetime_years(0) == math.inf
    assert load_device("sram").lifetime_years(1e9) == math.inf  # unlimited endurance


def test_area_leakage_and_read_figures():
    sas = load_device("sas-mram")
    assert sas.cell_area_um2(28) == approx(47 * 0.028**2)  # 47 F2 x (28 nm)^2 = 0.036848 um2
    assert sas.leakage_w_per_bit == 0
    sram = load_device("sram")
    assert sram.leakage_w_per_bit == approx(3.66e-9)  # 30 uW/KB / 8192 bits
    assert sas.read_energy_per_bit_fj == 5 and sas.and_energy_factor == 1.0
    assert sas.sense_amp_energy_fj == 0.7 and sas.read_latency_ns == 1.0 and sas.bits_per_cell == 1
    with pytest.raises(ValueError):
        sas.cell_area_um2(0)


def test_two_complement_and_range_checks():
    sot = load_device("sot-mram")
    # -1 in 4 bits is 0b1111: from 0, all 4 bits flip
    assert sot.write(np.array([0]), np.array([-1]), bits=4, policy="diff").pulses == 4
    with pytest.raises(ValueError, match="outside"):
        sot.write(np.array([0]), np.array([8]), bits=4)  # signed 4-bit max is 7
    with pytest.raises(ValueError, match="shape"):
        sot.write(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match="policy"):
        sot.write(np.array([0]), np.array([1]), policy="some")
    with pytest.raises(ValueError, match="mask"):
        sot.write(np.array([0, 1]), np.array([0, 2]), mask=np.array([True, False]))


def test_write_cost_add_and_scale():
    a = WriteCost(pulses=1, energy_pj=2.0, latency_ns=3.0, cells_written=4, max_cell_wear=1)
    b = WriteCost(pulses=2, energy_pj=1.0, latency_ns=1.0, cells_written=1, max_cell_wear=8)
    s = a + b
    assert (s.pulses, s.energy_pj, s.latency_ns, s.cells_written, s.max_cell_wear) == (3, 3.0, 4.0, 5, 8)
    k = a.scaled(3)
    assert (k.energy_pj, k.max_cell_wear, k.latency_ns) == (6.0, 3, 9.0)
    # sequence() is the one-pass form of a + b + ...: sums, worst wear the larger; empty is zero
    c = WriteCost(pulses=4, energy_pj=0.5, latency_ns=2.0, cells_written=2, verify_reads=3, max_cell_wear=2)
    assert WriteCost.sequence([a, b, c]) == a + b + c == WriteCost(
        pulses=7, energy_pj=3.5, latency_ns=6.0, cells_written=7, verify_reads=3, max_cell_wear=8)
    assert WriteCost.sequence([]) == WriteCost()


def test_policy_default_comes_from_the_card():
    sas = load_device("sas-mram", {"write_policy": "diff"})
    assert sas.expected_write(1, bits=8).verify_reads == 8
    assert load_device("sas-mram").expected_write(1, bits=8).verify_reads == 0
