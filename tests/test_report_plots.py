"""Report plots: every plot writes a PNG and an SVG, decodes, is deterministic, and is skipped (never
raises) when its columns are missing or constant."""

import math

import numpy as np
import pytest
from matplotlib.image import imread

from imcsim.report import plots as P
from imcsim.report.synthetic import synthetic_results

PARAMS = ["device", "workload", "method", "rows", "cols"]
NAMES = ["energy_breakdown", "array_size", "pareto", "writes", "lifetime", "utilisation"]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots")
    df = synthetic_results(failed=2)  # 3 devices x 2 rows x 2 cols x 2 methods, plus 2 failed points
    return out, P.all_plots(df, out, PARAMS, {"sas-mram": 1e12, "sot-mram": 1e12, "reram": 1e6})


@pytest.mark.slow
def test_every_plot_writes_png_and_svg(drawn):
    out, plots = drawn
    assert [p.name for p in plots] == NAMES
    for p in plots:
        assert p.skipped is None, p.name
        assert [f.name for f in p.files] == [f"{p.name}.png", f"{p.name}.svg"]
        assert all(f.parent == out and f.stat().st_size > 1000 for f in p.files)
        img = imread(p.png)
        h, w = img.shape[:2]
        assert img.shape[2] in (3, 4) and 500 <= w <= 2200 and 300 <= h <= 2000, (p.name, img.shape)
        assert img[..., :3].std() > 0.05  # not a blank canvas
        head = p.svg.read_text()[:400]
        assert "<svg" in head
        assert p.title and p.caption


@pytest.mark.slow
def test_files_are_deterministic(tmp_path):
    df = synthetic_results()
    a = P.plot_pareto(df, tmp_path / "a")
    b = P.plot_pareto(df, tmp_path / "b")
    for fa, fb in zip(a.files, b.files):
        assert fa.read_bytes() == fb.read_bytes(), fa.name


def test_missing_or_constant_columns_skip_with_a_reason(tmp_path):
    df = synthetic_results()
    no_size = df.drop(columns=["rows", "cols"])
    for fn in (P.plot_vs_array_size, P.plot_utilisation):
        p = fn(no_size, tmp_path)
        assert p.skipped and "rows" in p.skipped and not p.files
    one_size = synthetic_results(rows=(128,), cols=(128,))
    assert "single" in P.plot_vs_array_size(one_size, tmp_path).skipped
    assert "single" in P.plot_utilisation(one_size, tmp_path).skipped
    inference = synthetic_results(methods=("inference",))
    assert "0 everywhere" in P.plot_writes(inference, tmp_path).skipped
    bare = df[["device", "method", "status", "latency_ns"]]
    assert P.plot_energy_breakdown(bare, tmp_path).skipped
    assert "area_mm2" in P.plot_pareto(bare, tmp_path).skipped
    assert "lifetime_years" in P.plot_lifetime(bare, tmp_path).skipped
    assert not list(tmp_path.glob("*.png"))


def test_all_failed_table_skips_everything(tmp_path):
    df = synthetic_results(failed=3).tail(3)
    plots = P.all_plots(df, tmp_path)
    assert all(p.skipped for p in plots)


def test_infinite_lifetime_is_drawn_not_dropped(tmp_path):
    # only inference: no writes, every lifetime infinite -> still a plot (arrows), not a skip
    df = synthetic_results(methods=("inference",))
    assert np.isinf(df["lifetime_years"]).all()
    p = P.plot_lifetime(df, tmp_path)
    assert p.skipped is None and p.png.stat().st_size > 0


@pytest.mark.slow
def test_many_points_breakdown_groups_by_device_and_method(tmp_path):
    df = synthetic_results(rows=(32, 64, 128, 256), cols=(32, 64, 128, 256))  # 96 points > MAX_BARS
    p = P.plot_energy_breakdown(df, tmp_path, PARAMS)
    assert p.skipped is None and "lowest edp_pj_ns" in p.caption


def test_lifetime_notes_state_endurance_and_steps_per_day():
    df = synthetic_results(devices=("reram", "sas-mram"), methods=("repnet",), steps_per_day=250.0)
    # every row stores the steps/day its lifetime was computed with: the note reads it, never inverts
    notes = P.lifetime_notes(df, {"reram": 1e6, "sas-mram": 1e12})
    assert notes["reram"] == "endurance 1e6 cycles (card), steps/day 250"
    df["steps_per_day"] = 100.0
    df["endurance_cycles"] = 5e5
    assert P.lifetime_notes(df)["sas-mram"] == "endurance 5e5 cycles (run), steps/day 100"
    assert P.lifetime_notes(df.drop(columns=["steps_per_day", "endurance_cycles"]))["reram"] == \
        "endurance unknown, steps/day not recorded"
    sram = synthetic_results(devices=("sram",), methods=("repnet",)).drop(columns=["steps_per_day"])
    assert P.lifetime_notes(sram, {"sram": math.inf})["sram"] == "unlimited endurance (card), steps/day not recorded"


def test_si_scale():
    assert P.si_scale(3e7, P.ENERGY_UNITS) == (1e6, "\u00b5J")   # 3e7 pJ = 30 uJ
    assert P.si_scale(999.0, P.ENERGY_UNITS) == (1.0, "pJ")
    assert P.si_scale(2.5e3, P.TIME_UNITS) == (1e3, "\u00b5s")
    assert P.si_scale(math.nan, P.TIME_UNITS) == (1.0, "ns")


def test_the_registry_orders_the_report_and_takes_a_new_plot(tmp_path, monkeypatch):
    from imcsim.report.plots import base

    assert [s.label for s in P.registered()] == ["energy breakdown", "array size", "pareto", "writes",
                                                 "lifetime", "utilisation"]
    # a registry of two stand-in plots (drawing nothing) and a new one: the report takes it in its order
    fake = {label: base.PlotSpec(label, order, lambda df, out, inputs, n=label: P.Plot(n, n, skipped="stand-in"))
            for label, order in (("array size", 20), ("pareto", 30))}
    monkeypatch.setattr(base, "_REGISTRY", fake)

    @P.register("extra", 25)   # between "array size" (20) and "pareto" (30)
    def _extra(df, out, inputs):
        return P.Plot("extra", "extra", skipped=f"{len(df)} rows, params {list(inputs.params)}")

    seen = []
    plots = P.all_plots(synthetic_results(methods=("inference",)), tmp_path, ["rows"], progress=seen.append)
    assert [p.name for p in plots] == ["array size", "extra", "pareto"]
    assert plots[1].skipped.endswith("params ['rows']") and seen == ["plot 1/3: array size", "plot 2/3: extra",
                                                                     "plot 3/3: pareto"]
    with pytest.raises(ValueError, match="registered twice"):
        P.register("extra", 1)(lambda df, out, inputs: None)
