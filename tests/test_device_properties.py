"""Properties of every device model over random old/new weight arrays (hypothesis), and agreement
between the data-driven write and the closed form (exact for policy ``all``, in expectation for ``diff``).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from imcsim.device import list_devices, load_card, load_device
from imcsim.device.registry import technologies


def _variants() -> dict[str, tuple[str, dict | None]]:
    """One built-in card per registered technology (the card named after it, else the first), plus the
    option/parameter variants the technology declares: a new technology is tested without editing this file."""
    cards = {name: load_card(name).technology for name in list_devices()}
    out: dict[str, tuple[str, dict | None]] = {}
    for tech_name, tech in technologies().items():
        own = sorted(n for n, t in cards.items() if t == tech_name)
        assert own, f"technology {tech_name} has no built-in card in devices/"
        card = tech_name.replace("_", "-") if tech_name.replace("_", "-") in own else own[0]
        out[card] = (card, None)
        for suffix, overrides in tech.test_variants.items():
            out[f"{card}-{suffix}"] = (card, overrides)
    return out


VARIANTS = _variants()
DEVICES = {key: load_device(name, ov) for key, (name, ov) in VARIANTS.items()}
DATA_INDEPENDENT_ALL = [k for k, d in DEVICES.items() if d.closed_form_exact_for_all]


def test_every_technology_and_its_variants_are_covered():
    assert {d.technology for d in DEVICES.values()} == set(technologies())
    assert {"sas-mram-two-step", "reram-mlc2", "pcm"} <= set(DEVICES)


@st.composite
def write_requests(draw):
    bits = draw(st.integers(1, 8))
    signed = draw(st.booleans())
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6))
    elems = st.integers(lo, hi)
    old = draw(arrays(np.int64, shape, elements=elems))
    new = draw(arrays(np.int64, shape, elements=elems))
    mask = draw(arrays(np.bool_, shape))
    new = np.where(mask, new, old)
    use_mask = draw(st.booleans())
    return old, new, bits, signed, (mask if use_mask else None)


def popcount_of_flips(old, new, bits):
    x = (np.asarray(old, dtype=np.int64) ^ np.asarray(new, dtype=np.int64)) & ((1 << bits) - 1)
    return int(sum(bin(int(v)).count("1") for v in x.ravel()))


@pytest.mark.parametrize("key", list(DEVICES))
@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(req=write_requests())
def test_write_properties(key, req):
    dev = DEVICES[key]
    old, new, bits, signed, mask = req
    all_ = dev.write(old, new, bits, "all", signed=signed, mask=mask)
    diff = dev.write(old, new, bits, "diff", signed=signed, mask=mask)
    n_upd = int(np.asarray(mask).sum()) if mask is not None else old.size
    for cost in (all_, diff):
        for name, value in cost.as_dict().items():
            assert value >= 0, name
    # diff never costs more than all, apart from its verify read
    assert diff.energy_pj <= all_.energy_pj + diff.verify_reads * dev.cell_read_energy_pj + 1e-9
    assert diff.pulses <= all_.pulses and diff.cells_written <= all_.cells_written
    assert all_.verify_reads == 0
    # verify read: every cell of every updated weight, once
    cells_per_weight = -(-bits // dev.bits_per_cell)
    assert diff.verify_reads == n_upd * cells_per_weight
    # wear is consistent with pulses
    if dev.technology == "reram":
        for cost in (all_, diff):
            assert cost.pulses == cost.cells_written * dev.iterations
            assert cost.max_cell_wear == (dev.iterations if cost.cells_written else 0)
    elif dev.technology == "sas_mram":
        per_group = 2 if dev.write_scheme == "two_step" else 1
        for cost in (all_, diff):
            groups = cost.pulses / per_group
            assert groups == int(groups)
            assert groups <= cost.cells_written <= dev.mtj_per_line * groups
            assert cost.rmw_reads <= cost.cells_written
            assert cost.max_cell_wear == (1 if cost.pulses else 0)
    else:
        for cost in (all_, diff):
            assert cost.pulses == cost.cells_written
            assert cost.max_cell_wear == (1 if cost.pulses else 0)
        # per-bit devices write exactly the flipped bits under diff
        assert diff.pulses == popcount_of_flips(old, new, bits)
        assert all_.pulses == n_upd * bits
    # no flips: diff writes nothing and costs only its verify read
    same = dev.write(old, old, bits, "diff", signed=signed, mask=mask)
    assert same.pulses == 0 and same.cells_written == 0 and same.rmw_reads == 0
    assert same.energy_pj == pytest.approx(same.verify_reads * dev.cell_read_energy_pj, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("key", DATA_INDEPENDENT_ALL)
@settings(deadline=None, max_examples=40)
@given(req=write_requests())
def test_policy_all_matches_closed_form_exactly(key, req):
    dev = DEVICES[key]
    old, new, bits, signed, _ = req
    data = dev.write(old, new, bits, "all", signed=signed)
    assert data == dev.expected_write(old.size, bits, "all")


def _runs_layout(n_runs: int, run: int, line: int, bits: int, flip_prob: float, rng):
    """Data for ``n_runs`` runs of ``run`` updated weights, each padded to whole lines with neighbours."""
    per_run = -(-run // line) * line
    size = n_runs * per_run
    old = rng.integers(0, 1 << bits, size=size)
    flips = (rng.random((size, bits)) < flip_prob) @ (1 << np.arange(bits))
    mask = np.zeros(size, dtype=bool)
    for r in range(n_runs):
        mask[r * per_run: r * per_run + run] = True
    new = np.where(mask, old ^ flips, old)
    return old, new, mask


@pytest.mark.parametrize("key", list(DEVICES))
@pytest.mark.parametrize("run", [1, 3, 4])
def test_all_with_runs_matches_closed_form(key, run):
    dev = DEVICES[key]
    rng = np.random.default_rng(7)
    old, new, mask = _runs_layout(30, run, 4, 6, 0.5, rng)
    data = dev.write(old, new, 6, "all", signed=False, mask=mask)
    closed = dev.expected_write(30 * run, 6, "all", run_weights=run)
    if not dev.closed_form_exact_for_all:  # cost depends on the values written: equal in expectation only
        assert data.pulses == closed.pulses and data.rmw_reads == closed.rmw_reads
        assert data.energy_pj == pytest.approx(closed.energy_pj, rel=0.05)
    else:
        assert data == closed


@pytest.mark.parametrize("key", list(DEVICES))
@pytest.mark.parametrize("flip_prob", [0.05, 0.5])
def test_diff_expectation_converges_to_closed_form(key, flip_prob):
    dev = DEVICES[key]
    rng = np.random.default_rng(11)
    bits, run, n_runs = 8, 3, 32000
    old, new, mask = _runs_layout(n_runs, run, 4, bits, flip_prob, rng)
    data = dev.write(old, new, bits, "diff", signed=False, mask=mask)
    closed = dev.expected_write(n_runs * run, bits, "diff", flip_prob=flip_prob, run_weights=run)
    # 96,000 weights x 8 bits: at flip_prob 0.05 the flipped-bit count is Binomial(768000, 0.05),
    # relative sd sqrt(0.95 / 38400) = 0.5 %, so 2 % is a 4-sigma band (the rarest event counted,
    # a flipped group/cell, is at least as frequent).
    for field in ("energy_pj", "pulses", "cells_written", "rmw_reads", "verify_reads"):
        assert getattr(data, field) == pytest.approx(getattr(closed, field), rel=0.02, abs=1e-9), field
    assert data.latency_ns == pytest.approx(closed.latency_ns, rel=0.02)
