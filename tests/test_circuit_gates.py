"""The periphery gate table: 28 nm anchors, NeuroSim-anchored node scaling, extrapolation regime."""

import math

import numpy as np
import pytest

from imcsim.circuit.gates import (
    GATES_28NM,
    NEUROSIM_TABLE,
    area_scale,
    delay_scale,
    energy_scale,
    gates_at,
    regime,
    vdd_v,
)


def test_every_constant_has_a_tag_and_source():
    for key, s in GATES_28NM.items():
        assert set(s.tag.split("/")) <= {"S", "T", "D", "A"}, key
        assert s.source.strip() and s.unit.strip(), key


def test_28nm_is_the_anchor_unchanged():
    g = gates_at(28)
    # docs/macro.md section 5 values verbatim
    assert (g.and_fj, g.fa_full_fj, g.fa_fj, g.dff_fj, g.sense_latch_fj) == (0.28, 3.4, 1.7, 1.7, 0.7)
    # unit-gate areas of T6: NAND2 0.614 um^2; FA = 3 NAND2 + 2 XOR2(2.4x) = 1.842 + 2.9472 = 4.7892 um^2
    assert g.fa_area_um2 == pytest.approx(4.7892)
    assert g.dff_area_um2 == pytest.approx(3.684)
    # 8-bit adder leakage 1.5 nW / 8 full adders = 0.1875 nW per full adder
    assert g.fa_leak_w == pytest.approx(0.1875e-9)
    assert g.vdd_v == 0.9 and g.regime == "anchor"


@pytest.mark.parametrize("kind,row", [("fa", "fa_fj"), ("dff", "dff_fj"), ("sense", "sense_latch_fj"),
                                      ("leakage", "adder8_leak_nw")])
def test_table_nodes_reproduce_neurosim_ratios(kind, row):
    t = NEUROSIM_TABLE[row]
    # Inside the table the scale is the NeuroSim curve itself: ratios between table nodes are exact.
    assert energy_scale(kind, 22) / energy_scale(kind, 32) == pytest.approx(t[22.0] / t[32.0])
    assert energy_scale(kind, 45) / energy_scale(kind, 32) == pytest.approx(t[45.0] / t[32.0])
    assert energy_scale(kind, 28) == pytest.approx(1.0)


def test_28nm_interpolation_agrees_with_the_anchor():
    # log-log between NeuroSim 32 nm (2.2 fJ) and 22 nm (1.1 fJ): 1.1 x (28/22)^(ln 2 / ln(32/22)) = 1.72 fJ,
    # within 2 % of the ZigZag-derived 1.7 fJ anchor: the two tools agree at 28 nm.
    slope = math.log(2.2 / 1.1) / math.log(32 / 22)
    assert 1.1 * (28 / 22) ** slope == pytest.approx(1.7, rel=0.02)
    # so the 22 nm full adder lands on NeuroSim's 1.1 fJ within the same 2 %
    assert gates_at(22).fa_fj == pytest.approx(1.1, rel=0.02)


def test_below_the_table_follows_stillmaker_baas_and_foundry_steps():
    # [STILLMAKER17] LP fits E(V) = a V^2 + b V + c, worked by hand at each node's supply:
    f7 = 0.09365 * 0.75**2 - 0.03409 * 0.75 + 0.02043           # 0.0475406 at 0.75 V
    v20 = 0.8 + (20 - 16) / (22 - 16) * (0.85 - 0.8)             # 0.8333 V, linear between 16 and 22 nm
    f20 = 0.2632 * v20**2 - 0.14 * v20 + 0.06841                 # 0.134521
    f32 = 0.9559 * 0.9**2 - 0.7823 * 0.9 + 0.471                 # 0.541209 at 0.9 V
    f22 = math.exp(math.log(f32) + math.log(22 / 32) / math.log(20 / 32) * math.log(f20 / f32))  # 0.17840
    assert f22 == pytest.approx(0.17840, rel=1e-4)
    assert energy_scale("fa", 7) / energy_scale("fa", 22) == pytest.approx(f7 / f22)        # 0.26649
    assert energy_scale("dff", 20) / energy_scale("dff", 22) == pytest.approx(f20 / f22)    # every kind alike
    # below 7 nm the foundry's iso-speed power steps: N5 = 0.70 N7, N3 = 0.725 N5; 4 nm log-log between
    assert energy_scale("fa", 5) == pytest.approx(0.70 * energy_scale("fa", 7))
    assert energy_scale("fa", 3) == pytest.approx(0.725 * energy_scale("fa", 5))
    step4 = 0.725 ** (math.log(4 / 5) / math.log(3 / 5))          # 0.86897
    assert energy_scale("sense", 4) == pytest.approx(step4 * energy_scale("sense", 5))
    assert regime(7) == "fitted" and regime(22) == "interpolated" and regime(65) == "extrapolated"
    # above 45 nm C x V^2 with the supply held at 1.0 V: linear in node
    assert energy_scale("fa", 90) == pytest.approx(energy_scale("fa", 45) * 2)
    # leakage below the table stays ~ node x V (A)
    assert energy_scale("leakage", 7) == pytest.approx(energy_scale("leakage", 22) * (7 / 22) * (0.75 / 0.85))


def test_scales_are_monotone_and_vectorised():
    nodes = np.array([5, 7, 12, 16, 22, 28, 32, 45, 65], dtype=float)
    for kind in ("fa", "dff", "sense", "leakage"):
        s = energy_scale(kind, nodes)
        assert s.shape == nodes.shape and np.all(np.diff(s) > 0)
        assert np.allclose(s, [float(energy_scale(kind, n)) for n in nodes])
    assert area_scale(22) == pytest.approx((22 / 28) ** 2)  # planar: node^2
    assert area_scale(14) == pytest.approx((20 / 28) ** 2 * 0.17 / 0.21)  # FinFET: [STILLMAKER17] 14 vs 20 nm
    assert delay_scale(14) == pytest.approx(0.5)
    assert vdd_v(32) == pytest.approx(0.9) and vdd_v(5) == pytest.approx(0.7)


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown gate kind"):
        energy_scale("nand9", 28)
    with pytest.raises(ValueError):
        gates_at(0)
