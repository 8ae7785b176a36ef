"""Node scaling of area (planar node^2, FinFET table) and SRAM leakage, hand-computed."""

import math

import numpy as np
import pytest

from imcsim import technology as t
from imcsim.circuit.gates import gates_at
from imcsim.device import load_device


def test_planar_area_is_node_squared():
    for n in (20, 22, 28, 40, 65):
        assert float(t.area_scale(n)) == pytest.approx((n / 28) ** 2)
        assert float(t.area_scale(n, "cell")) == pytest.approx((n / 28) ** 2)
    assert t.area_regime(20) == "planar" and t.area_regime(16) == "finfet"


def test_finfet_area_from_the_table():
    base = (20 / 28) ** 2                       # 0.510204: the 20 nm planar area relative to 28 nm
    # 16 nm: 0.19 / 0.21 of 20 nm ([STILLMAKER17] 45 nm-relative areas) = 0.461613
    assert float(t.area_scale(16)) == pytest.approx(base * 0.19 / 0.21)
    assert float(t.area_scale(16)) == pytest.approx(0.461613, rel=1e-5)
    # 12 nm: log-log between 14 (0.17) and 10 (0.10): w = ln(12/14)/ln(10/14) = 0.458144,
    # S(12) = exp(ln 0.17 + w (ln 0.10 - ln 0.17)) = 0.133195; x base / 0.21 = 0.323604
    w = math.log(12 / 14) / math.log(10 / 14)
    s12 = math.exp(math.log(0.17) + w * (math.log(0.10) - math.log(0.17)))
    assert s12 == pytest.approx(0.13320, rel=1e-3)
    assert float(t.area_scale(12)) == pytest.approx(base * s12 / 0.21)
    # 5 nm: 7 nm / 1.84 (TSMC N5 logic density over N7): 0.059 / 1.84 / 0.21 x base = 0.077904
    assert float(t.area_scale(5)) == pytest.approx(base * 0.059 / 1.84 / 0.21)
    assert float(t.area_scale(5)) / (5 / 28) ** 2 == pytest.approx(2.443, rel=1e-3)   # vs node^2
    # 3 nm: another / 1.7 for logic
    assert float(t.area_scale(3)) == pytest.approx(base * 0.059 / 1.84 / 1.7 / 0.21)
    s = t.area_scale(np.array([3, 5, 7, 12, 16, 20, 28, 45.0]))
    assert np.all(np.diff(s) > 0)


def test_cells_follow_the_published_bitcells_below_16nm():
    at16 = (20 / 28) ** 2 * 0.19 / 0.21                      # 0.461613: cells take the logic curve at 16 nm
    assert float(t.area_scale(16, "cell")) == pytest.approx(at16)
    # 7 nm: x 0.027 / 0.070 (TSMC 7 nm / 16 nm demo bitcells) = 0.385714 -> 0.178051
    assert float(t.area_scale(7, "cell")) == pytest.approx(at16 * 0.027 / 0.070)
    assert float(t.area_scale(7, "cell")) == pytest.approx(0.178051, rel=1e-5)
    # 5 nm and 3 nm: x 0.021 / 0.070 = 0.3 -> 0.138484 (N3E bitcell = N5 bitcell)
    assert float(t.area_scale(5, "cell")) == pytest.approx(at16 * 0.3)
    assert float(t.area_scale(3, "cell")) == pytest.approx(float(t.area_scale(5, "cell")))
    # 12 nm: log-log between 16 (0.070) and 7 (0.027): w = ln(12/16)/ln(7/16) = 0.347997
    w = math.log(12 / 16) / math.log(7 / 16)
    assert float(t.area_scale(12, "cell")) == pytest.approx(at16 * (0.027 / 0.070) ** w)
    # bitcells shrink slower than logic: at 5 nm the cell curve is 1.78x the logic curve
    assert float(t.area_scale(5, "cell")) / float(t.area_scale(5)) == pytest.approx(1.7776, rel=1e-3)


def test_area_reaches_gates_and_cells():
    # FA at 12 nm = the 28 nm unit-gate adder (3 NAND2 + 2 XOR2 = 4.7892 um^2) x 0.323604
    fa28 = 3 * 0.614 + 2 * 0.614 * 2.4
    assert gates_at(12).fa_area_um2 == pytest.approx(fa28 * float(t.area_scale(12)))
    # sram card, 190 F^2: at 28 nm 190 x 0.028^2 = 0.14896 um^2; at 7 nm x 0.178051 = 0.026523 um^2
    sram = load_device("sram")
    assert sram.cell_area_um2(28) == pytest.approx(0.14896)
    assert sram.cell_area_um2(7) == pytest.approx(0.14896 * (20 / 28) ** 2 * 0.19 / 0.21 * 0.027 / 0.070)
    assert sram.cell_area_um2(22) == pytest.approx(190 * 0.022 ** 2)


def test_sram_leakage_follows_the_node():
    # NeuroSim LSTP leakage row 3.0 / 1.8 / 1.1 nW at 45 / 32 / 22 nm. 28 nm vs 22 nm, log-log:
    # w = ln(28/22)/ln(32/22) = 0.643; ln L(28) = ln 1.1 + w (ln 1.8 - ln 1.1) -> L = 1.5103 nW; / 1.1 = 1.373
    w = math.log(28 / 22) / math.log(32 / 22)
    ratio = math.exp(w * (math.log(1.8) - math.log(1.1)))
    assert ratio == pytest.approx(1.373, rel=1e-3)
    assert float(t.leakage_scale(28, 22)) == pytest.approx(ratio)
    assert t.sram_leakage_at(30.0, 22) == pytest.approx(30.0)
    assert t.sram_leakage_at(30.0, 28) == pytest.approx(30 * ratio)       # 41.19 uW/KiB at 28 nm
    # 45 nm: 3.0 / 1.1 = 2.727x the 22 nm figure
    assert t.sram_leakage_at(30.0, 45) == pytest.approx(30 * 3.0 / 1.1)
    # the sram card's 3.66 nW per bit (22 nm) at 28 nm, and the non-volatile cards stay at zero
    assert load_device("sram").leakage_w_per_bit_at(28) == pytest.approx(3.66e-9 * ratio)
    assert load_device("sas-mram").leakage_w_per_bit_at(28) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="unknown area kind"):
        t.area_scale(28, "wire")
    with pytest.raises(ValueError):
        t.area_scale(0)
    with pytest.raises(ValueError):
        t.leakage_scale(28, 0)


def test_chip_buffer_leakage_follows_its_node():
    from imcsim.config.accelerator import load_accelerator
    from imcsim.errors import SpecError

    # preset: 30 uW/KiB quoted at 22 nm, chip at 28 nm -> 30 x 1.37296 = 41.19 uW/KiB
    chip = load_accelerator("acc-sas-mram").chip
    assert chip.sram_leakage_node_nm == 22
    assert chip.sram_leakage_w_per_kib == pytest.approx(41.19e-6, rel=1e-3)
    # the same figure quoted at the chip's own node is taken as is
    same = load_accelerator("acc-sas-mram", {"chip.sram_leakage_node_nm": 28}).chip
    assert same.sram_leakage_w_per_kib == pytest.approx(30e-6)
    # a 45 nm chip: 30 x 3.0 / 1.1 (the NeuroSim row at 45 and 22 nm) = 81.8 uW/KiB
    big = load_accelerator("acc-sas-mram", {"chip.node_nm": 45, "chip.clock_mhz": 200}).chip
    assert big.sram_leakage_w_per_kib == pytest.approx(30e-6 * 3.0 / 1.1)
    with pytest.raises(SpecError, match="sram_leakage_node_nm"):
        load_accelerator("acc-sas-mram", {"chip.sram_leakage_node_nm": 0})


def test_chip_buffer_area_follows_its_node():
    from imcsim.config.accelerator import load_accelerator
    from imcsim.errors import SpecError

    # preset: 0.1145 um^2 per bit (146 F^2 x (28 nm)^2) quoted at 28 nm, chip at 28 nm -> as is
    chip = load_accelerator("acc-sas-mram").chip
    assert chip.sram_area_node_nm == 28
    assert chip.sram_bit_area_um2 == pytest.approx(0.1145)
    # 22 nm (planar): x (22/28)^2 = 0.617347 -> 0.070686 um^2
    assert load_accelerator("acc-sas-mram", {"chip.node_nm": 22}).chip.sram_bit_area_um2 == \
        pytest.approx(0.070686, rel=1e-5)
    # 7 nm (cell curve): x 0.461613 x 0.027/0.070 = 0.178051 -> 0.020387 um^2
    assert load_accelerator("acc-sas-mram", {"chip.node_nm": 7}).chip.sram_bit_area_um2 == \
        pytest.approx(0.1145 * 0.178051, rel=1e-5)
    # 3 nm: the N5 bitcell: x 0.461613 x 0.021/0.070 = 0.138484 -> 0.015856 um^2
    assert load_accelerator("acc-sas-mram", {"chip.node_nm": 3}).chip.sram_bit_area_um2 == \
        pytest.approx(0.015856, rel=1e-4)
    # a figure quoted at 22 nm on a 28 nm chip grows by (28/22)^2
    c = load_accelerator("acc-sas-mram", {"chip.sram_area_node_nm": 22}).chip
    assert c.sram_bit_area_um2 == pytest.approx(0.1145 * (28 / 22) ** 2)
    with pytest.raises(SpecError, match="sram_area_node_nm"):
        load_accelerator("acc-sas-mram", {"chip.sram_area_node_nm": 1})


def test_buffer_area_reaches_the_chip_area():
    from imcsim.config.study import study_from_params
    from imcsim.engine import evaluate

    # acc-sas-mram buffers: 2048 KiB global + 64 tiles x 64 KiB = 6144 KiB = 50,331,648 bits;
    # at 22 nm x 0.070686 um^2 = 3.5578 mm^2 (at 28 nm x 0.1145 = 5.7630 mm^2)
    res = evaluate(study_from_params({"workload": "tiny-cnn", "node_nm": 22}), engine="analytic")
    assert res.area_um2["sram_buffers"] == pytest.approx(50_331_648 * 0.1145 * (22 / 28) ** 2)


def test_cell_area_memoised_per_node_equals_the_curve():
    # cell_area_um2 memoises the cell curve per node: the same float as the formula written out, on every node
    # kind (FinFET table, bitcells below 16 nm, planar), and area_scale's error for a bad node
    import numpy as np

    from imcsim.technology import ANCHOR_NODE_NM, area_scale, cell_area_um2

    # by hand at the 28 nm anchor: 40 F^2 x (0.028 um)^2 x 1 = 0.03136 um^2
    assert cell_area_um2(40.0, 28.0) == pytest.approx(0.03136, rel=1e-12)
    for node in np.linspace(3.0, 180.0, 709).tolist() + [7, 16, 20, np.float64(5.5), np.array(12.0)]:
        for f2 in (4, 40.0, np.float64(146.0)):
            want = float(f2 * (ANCHOR_NODE_NM * 1e-3) ** 2 * area_scale(node, "cell"))
            assert cell_area_um2(f2, node) == want and cell_area_um2(f2, node) == want   # the miss and the hit
    with pytest.raises(ValueError, match="node_nm must be > 0, got 0"):
        cell_area_um2(40.0, 0)
