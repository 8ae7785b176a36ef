"""The validation suite: every case lands in its band or is a stated known deviation, and the
accounting cases' simulated values equal an independent recomputation from the reference arithmetic
([P6], [GRADFILTER], [MOBILENETV2] in docs/references.md)."""

import math

import pytest

from imcsim.errors import SpecError
from imcsim.validate import load_cases, run_case, select, verdict
from imcsim.validate.cases import Band

CASES = load_cases()
BY_NAME = {c.name: c for c in CASES}
FAST = [c for c in CASES if c.fast]


@pytest.fixture(scope="module")
def results():
    return {c.name: run_case(c) for c in FAST}


def test_suite_covers_the_required_cases():
    names = set(BY_NAME)
    assert {"tsmc22-isscc2021-tops-per-w", "tsmc22-isscc2021-tops-per-mm2", "tsmc5-isscc2022-tops-per-w",
            "tsmc5-isscc2022-tops-per-mm2", "tu28-isscc2022-tops-per-w", "tu28-isscc2022-tops-per-mm2",
            "fp-smr-tops-per-w", "luo-imw2022-sot-vs-sram-22nm", "lorafusion-trainable-params",
            "lora-trainable-params", "gradfilter-memory-saving", "gradfilter-speedup",
            "mobiletl-irb-memory-mobilenetv2", "mobiletl-irb-memory-mobilenetv3",
            "isscc2022-11.7-tops-per-w", "isscc2022-11.7-tops-per-mm2", "isscc2023-7.2-tops-per-w",
            "lee12-vlsi2022-tops-per-w", "lee12-vlsi2022-tops-per-mm2", "mori4-isscc2023-tops-per-w",
            "wang28-isscc2022-tops-per-w", "wang28-isscc2022-tops-per-mm2", "nvdcim-stt40-tops-per-w",
            "tu28-isscc2022-bf16-tflops-per-w"} <= names
    for c in CASES:  # every published number carries a citation and a stated configuration
        assert c.source.strip() and c.configuration.strip() and c.band.why.strip()


@pytest.mark.parametrize("name", [c.name for c in FAST])
def test_case_verdict(results, name):
    """No case fails: inside the band, or outside with a stated cause (known deviation)."""
    r = results[name]
    c = r.case
    assert r.simulated == r.simulated and r.simulated != 0  # computed, finite, non-zero
    assert r.verdict == verdict(c, c.band.contains(r.simulated, c.published.value))
    if c.role == "validation":
        assert r.verdict in ("pass", "known deviation"), f"{name}: {r.simulated} vs {c.published.value}"
        if r.verdict == "known deviation":
            assert c.known_deviation and len(c.known_deviation.split()) >= 10
    else:
        assert r.verdict == c.role


def test_held_out_silicon_count_and_rate(results):
    from imcsim.validate.suite import hardware_summary, is_silicon

    rs = list(results.values())
    h = hardware_summary(rs)
    held = [r for r in rs if r.case.role == "validation" and is_silicon(r.case)]
    # at least 10 held-out silicon cases, none of them fitted or using a calibrated card
    assert h["held_out_silicon"] == len(held) >= 10
    assert all(r.case.calibrates is None and "calibrated" not in r.case.macro.device for r in held)
    assert h["within_band"] == sum(r.verdict == "pass" for r in held)
    # regression guard on today's 13 of 16, the 80 % (docs/validation.md lists the 3 deviations and causes)
    assert h["within_band"] >= 13 and h["within_band"] / h["held_out_silicon"] >= 0.8
    assert h["fitted_silicon"] == 2


def test_fitted_cases_are_not_counted_as_evidence(results):
    fitted = [r for r in results.values() if r.case.role == "fitted"]
    assert fitted and all(r.verdict == "fitted" for r in fitted)
    # the calibrated FP-SMR case reproduces its anchor (it was fitted to it) ...
    assert abs(results["fp-smr-tops-per-w"].error_pct) < 0.1
    # ... and no held-out case uses the calibrated card
    for c in CASES:
        if c.role == "validation" and c.macro is not None:
            assert c.macro.device != "sas-mram-calibrated"


def test_silicon_bands_are_factor_two_and_accounting_bands_are_rounding():
    for c in CASES:
        if c.kind in ("macro", "macro_ratio", "frontend"):
            assert (c.band.type, c.band.factor) == ("factor", 2.0)
        else:
            assert c.band.type == "rounding"


def test_band_logic():
    f = Band(type="factor", factor=2, why="x")
    assert f.contains(5.0, 10.0) and f.contains(20.0, 10.0)
    assert not f.contains(4.99, 10.0) and not f.contains(20.01, 10.0)
    r = Band(type="rounding", step=1, why="x")
    assert r.contains(148.4, 148) and r.contains(147.5, 148) and not r.contains(148.6, 148)
    with pytest.raises(ValueError):
        Band(type="rounding", why="x")


# ------------------------------------------------------------------ independent recomputations
def test_lora_and_lorafusion_params_from_reference_arithmetic(results):
    # [P6]: 144 adapted 1024x1024 matrices (24 enc x {q,v} + 24 dec x {self q,v; cross q,v})
    matrices = 24 * 2 + 24 * 4
    lora = matrices * 16 * (1024 + 1024)           # r (d_in + d_out) = 4,718,592
    fusion = matrices * 1024 + 20 * 48              # magnitudes + coefficients = 148,416
    assert (lora, fusion) == (4_718_592, 148_416)
    assert results["lora-trainable-params"].simulated == pytest.approx(lora / 1e3, rel=1e-12)
    assert results["lorafusion-trainable-params"].simulated == pytest.approx(fusion / 1e3, rel=1e-12)
    assert results["lorafusion-vs-lora-ratio"].simulated == pytest.approx(100 * fusion / lora, rel=1e-12)


def _resnet18_last4():
    """(C_in, H_in, C_out, k, stride, H_out) of ResNet-18's last 4 convs in module order."""
    return [(512, 7, 512, 3, 1, 7),    # layer4.0.conv2
            (256, 14, 512, 1, 2, 7),   # layer4.0.downsample
            (512, 7, 512, 3, 1, 7),    # layer4.1.conv1
            (512, 7, 512, 3, 1, 7)]    # layer4.1.conv2


def test_gradient_filter_memory_from_reference_arithmetic(results):
    r = 2
    vanilla = sum(ci * h * h for ci, h, *_ in _resnet18_last4())                       # x, elems
    filtered = sum(ci * math.ceil(ho / r) ** 2 for ci, _, _, _, _, ho in _resnet18_last4())  # x~ = C_in ceil(H_out/r)^2
    assert (vanilla * 4 / 1024, filtered * 4 / 1024) == (490.0, 112.0)                 # KiB, fp32
    assert results["gradfilter-memory-saving"].simulated == pytest.approx(100 * (1 - filtered / vanilla), rel=1e-12)


def test_gradient_filter_backward_macs_from_reference_arithmetic(results):
    r = 2
    convs = _resnet18_last4()
    # vanilla: weight gradients = forward MACs of every trained conv; error propagation through the
    # convs above the lowest trained ones (layer4.1.conv1, conv2) and through the 512 x 1000 classifier
    fwd = [co * ci * k * k * ho * ho for ci, _, co, k, _, ho in convs]
    vanilla = sum(fwd) + fwd[2] + fwd[3] + 512 * 1000
    # filtered: per-patch 1x1 products, ceil(7/2)^2 = 16 patches
    p = [math.ceil(ho / r) ** 2 for *_, ho in convs]
    wgrad = sum(pi * co * ci for pi, (ci, _, co, *_) in zip(p, convs))
    berr = p[2] * 512 * 512 + p[3] * 512 * 512 + 512 * 1000
    assert results["gradfilter-speedup"].simulated == pytest.approx(vanilla / (wgrad + berr), rel=1e-12)


def test_mobiletl_mobilenetv2_from_reference_table(results):
    # MobileNetV2 [MOBILENETV2], blocks features.13-17: (|x|, |expand out| = |dw in|, |dw out| = |proj in|, |proj out|)
    blocks = [(18816, 112896, 112896, 18816), (18816, 112896, 28224, 7840), (7840, 47040, 47040, 7840),
              (7840, 47040, 47040, 7840), (7840, 47040, 47040, 15680)]
    mobiletl = ft_blks = 0
    for x, e, d, p in blocks:
        masks = e // 8 + d // 8                                # two ReLU6 masks, 1 bit each
        mobiletl += 4 * (x + e + d + p) + masks                 # conv inputs x, dw in, proj in; last-BN input
        ft_blks += 4 * (x + e + e + d + d + p) + masks          # + the inputs of the two internal BNs
    assert results["mobiletl-irb-memory-mobilenetv2"].simulated == pytest.approx(100 * (1 - mobiletl / ft_blks),
                                                                                 rel=1e-12)


def test_mobiletl_mobilenetv3_from_the_graph_by_the_written_rules(results):
    """No reference table for V3: the [MOBILETL] rules and the [TINYTL] convention applied node by node."""
    from imcsim.workload.cards import load_workload
    from imcsim.workload.methods.tinytl import irb_blocks

    g = load_workload("mobilenetv3-large")
    mobiletl = ft_blks = 0
    for blk in irb_blocks(g)[-5:]:
        nodes = [g[n] for n in blk.nodes if n in g]
        norms = [n for n in nodes if n.op == "norm"]
        for n in nodes:
            x = n.in_elems
            if n.op in ("conv", "linear"):
                mobiletl += 4 * x
                ft_blks += 4 * x
            elif n.op == "norm":
                ft_blks += 4 * x
                mobiletl += 4 * x if n is norms[-1] else 0
            elif n.op == "act":
                kind = n.attrs["kind"]
                mobiletl += math.ceil(x / 8) if kind in ("relu", "relu6", "hswish", "hsigmoid") else 4 * x
                ft_blks += math.ceil(x / 8) if kind in ("relu", "relu6") else 4 * x
    assert results["mobiletl-irb-memory-mobilenetv3"].simulated == pytest.approx(100 * (1 - mobiletl / ft_blks),
                                                                                 rel=1e-12)


def test_unknown_case_is_a_spec_error():
    with pytest.raises(SpecError, match="unknown validation case 'tsmc22'.*did you mean"):
        select(CASES, ["tsmc22"])
