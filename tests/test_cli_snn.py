"""`imcsim snn`: price, digits and study files; bad input is one line and exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imcsim.cli.main import main
from imcsim.paths import workloads_dir
from imcsim.snn.digits import run_digits
from imcsim.snn.exits import exits, static


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_price_dtsnn_headline(capsys):
    rows = _json(capsys, ["snn", "price", "--workload", "vgg16-cifar", "--avg-timesteps", "1.46", "--format", "json"])
    by = {r["mode"]: r for r in rows}
    assert set(by) == {"int8-cnn", "snn-static-T4", "snn-dtsnn-entropy"}
    dyn = by["snn-dtsnn-entropy"]
    assert dyn["timesteps_avg"] == pytest.approx(1.46)
    # the validation case's figure: within the rounding of DT-SNN's "80 %"
    assert 75 <= 100 * dyn["edp_reduction_vs_static"] <= 85
    assert by["int8-cnn"]["energy_pj"] > by["snn-static-T4"]["energy_pj"]
    # nothing here is measured: default spike rate and a two-point exit distribution, both assumed
    assert {(m, r["basis_activity"], r["basis_exits"], r["basis_accuracy"]) for m, r in by.items()} == {
        ("int8-cnn", "assumed", "spec", "none"), ("snn-static-T4", "assumed", "spec", "none"),
        ("snn-dtsnn-entropy", "assumed", "assumed", "none")}


def test_price_timeline_rows(capsys):
    rows = _json(capsys, ["snn", "price", "--avg-timesteps", "1.46", "--timeline", "16", "--format", "json"])
    tl = [r for r in rows if r.get("table") == "timeline"]
    assert [(r["mode"], r["in_flight"]) for r in tl] == [("snn-static", 1), ("snn-static", 7), ("snn-dynamic", 1),
                                                        ("snn-dynamic", 7)]
    assert tl[3]["throughput_per_s"] > tl[1]["throughput_per_s"] > tl[0]["throughput_per_s"]


def test_price_rates_file_and_layers_table(tmp_path, capsys):
    rates = tmp_path / "rates.csv"
    rates.write_text("layer,timestep,rate\nfeatures.2,,0.3\nfeatures.5,1,0.1\nfeatures.5,2,0.2\n"
                     "features.5,3,0.2\nfeatures.5,4,0.2\n")
    assert main(["snn", "price", "--rates", str(rates), "--exit", "histogram", "--histogram", "0.25,0.25,0.25,0.25",
                 "--layers", "-o", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "features.3" in out and "snn-given-histogram" in out and "given table" in out
    assert (tmp_path / "r" / "report.html").is_file() and (tmp_path / "r" / "snn.csv").is_file()
    # the rates table and the histogram were given, not measured; the result says so, and so does its page
    sentence = ("Measured or assumed: given: spike activity (every layer's input-bit and AND densities), exit "
                "distribution (dynamic rows; static rows run all T); the INT8 CNN: activity assumed (A)")
    assert sentence in out and "measured by execution" not in out
    assert "Measured or assumed: given: spike activity" in (tmp_path / "r" / "report.html").read_text()


@pytest.mark.parametrize("argv, text", [
    (["snn", "price", "--timesteps", "0"], "timesteps"),
    (["snn", "price", "--histogram", "0.5,0.4,0,0"], "does not sum to 1"),
    (["snn", "price", "--exit", "histogram"], "--histogram"),
    (["snn", "price", "--avg-timesteps", "5"], "average timesteps"),
    (["snn", "price", "--workload", "tiny-cnn"], "relu6"),
    (["snn", "price", "--spike-rate", "1.5"], "spike_rate"),
    (["snn", "digits", "--thresholds", "0.5,1.2"], "--thresholds"),
    (["snn", "digits", "--hidden", "64,x"], "--hidden"),
    (["snn", "price", "--timeline", "0"], "--timeline"),
])
def test_bad_input_is_one_line(argv, text, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert text in err and len(err.splitlines()) == 1


def test_bad_rates_and_study_files(tmp_path, capsys):
    rates = tmp_path / "rates.csv"
    rates.write_text("layer,rate\nfeatures.2,1.7\n")
    assert main(["snn", "price", "--rates", str(rates)]) == 2
    assert "rate" in capsys.readouterr().err
    study = tmp_path / "s.yaml"
    study.write_text("kind: snn-study\ncommand: price\noptions: {timestep: 4}\n")
    assert main(["snn", "study", str(study)]) == 2
    assert "options.timestep" in capsys.readouterr().err


def test_digits_measured_accuracy_and_timesteps():
    d = run_digits(timesteps=4, samples=120)
    logits = d.logits / 10.0
    assert d.ann_accuracy > 0.9 and static(logits).accuracy(d.labels) > 0.85
    averages = [exits(logits, "entropy", th).average for th in (0.3, 0.6, 0.9, 0.99)]
    assert averages == sorted(averages) and 1.0 <= averages[0] < averages[-1] <= 4.0
    # measured spikes: every hidden layer fires, and the rates are fractions
    rates = d.run.spike_rates()
    assert all(0 < max(v) <= 1 for v in rates.values())
    # bit-exact on the kernels: the reference path gives the same outputs
    ref = run_digits(timesteps=4, samples=120, kernel="reference")
    assert np.array_equal(d.run.outputs, ref.run.outputs)


def test_shipped_digits_study_reproduces_the_plot(tmp_path, capsys):
    src = (workloads_dir() / "studies" / "snn-digits.yaml").read_text()
    study = tmp_path / "snn-digits.yaml"
    study.write_text(src.replace("options:\n", "options:\n  samples: 60\n  epochs: 20\n"))
    rows = _json(capsys, ["snn", "study", str(study), "-o", str(tmp_path / "out"), "--format", "json"])
    dyn = [r for r in rows if r["threshold"] is not None]
    assert len(dyn) == 8 and all(r["accuracy"] is not None for r in dyn)
    # the digits run measures the spikes, the exits and the accuracy; the static rows' exits are not data
    assert {(r["basis_activity"], r["basis_exits"], r["basis_accuracy"]) for r in dyn} == {
        ("measured", "measured", "measured")}
    assert {r["basis_exits"] for r in rows if r["threshold"] is None} == {"spec"}
    assert "Measured or assumed: measured by execution" in (tmp_path / "out" / "report.html").read_text()
    assert (tmp_path / "out" / "snn_edp_vs_threshold.png").is_file()
    assert (tmp_path / "out" / "snn_timestep_histogram.png").is_file()
    assert "EDP and accuracy against the exit threshold" in (tmp_path / "out" / "report.html").read_text()
