"""The shipped study files (workloads/studies/*.yaml): each parses, says what it reproduces, and runs
(at reduced size in the fast tests, so a broken file fails CI), and shows what its figure is about."""

from __future__ import annotations

import json

import pytest

from imcsim.cli.main import main
from imcsim.config.study import load_study_file
from imcsim.paths import workloads_dir
from imcsim.sweep import read_results

STUDIES = workloads_dir() / "studies"
SWEEPS = ["array-size-resnet18", "repnet-devices", "lora-vs-lorafusion"]


def _sweep(path, extra, out, capsys) -> dict:
    code = main(["sweep", str(path), *extra, "-o", str(out), "--no-report", "--progress", "none", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)[0]


@pytest.mark.parametrize("name", SWEEPS)
def test_study_file_parses_and_describes_its_figure(name):
    sf = load_study_file(STUDIES / f"{name}.yaml")
    assert sf.sweep and sf.sweep.get("axes")
    assert "Figure:" in sf.description and "ssumption" in sf.description


@pytest.mark.parametrize("name", SWEEPS)
def test_imcsim_run_points_to_imcsim_sweep(name, capsys):
    assert main(["run", str(STUDIES / f"{name}.yaml")]) == 2
    assert "imcsim sweep" in capsys.readouterr().err


def test_array_size_resnet18_reduced(tmp_path, capsys):
    out = tmp_path / "a"
    summary = _sweep(STUDIES / "array-size-resnet18.yaml", ["--rows", "32,128", "--cols", "64"], out, capsys)
    df = read_results(out)
    assert summary["points"] == len(df) == 5 * 2
    assert set(df["device"]) == {"sas-mram", "sot-mram", "stt-mram", "reram", "sram"}
    assert (df["status"] == "ok").all() and (df["method"] == "inference").all()
    assert (df["workload"] == "resnet18").all() and (df["weights_written"] == 0).all()


def test_repnet_devices_full(tmp_path, capsys):
    out = tmp_path / "r"
    summary = _sweep(STUDIES / "repnet-devices.yaml", [], out, capsys)
    df = read_results(out).set_index(["device", "write_policy"])
    assert summary["points"] == 6 and (df["status"] == "ok").all()
    assert (df["method"] == "repnet").all() and (df["map_batch"] == 8).all() and (df["workload.classes"] == 102).all()
    assert (df["weights_written"] > 0).all() and (df["map_fits"]).all()
    # what the figure is about: ReRAM's low endurance gives the shortest life
    life = df["lifetime_years"].groupby(level="device").min()
    assert life["reram"] < life["sas-mram"] and life["reram"] < life["sot-mram"]


def test_lora_vs_lorafusion_reduced(tmp_path, capsys):
    out = tmp_path / "l"
    summary = _sweep(STUDIES / "lora-vs-lorafusion.yaml",
                     ["--workload.seq-len", "16", "--workload.dec-len", "8", "--workload.layers", "2"], out, capsys)
    df = read_results(out)
    assert summary["points"] == 4 and (df["status"] == "ok").all()
    assert set(zip(df["method"], df["device"])) == {(m, d) for m in ("lora", "lorafusion") for d in ("reram", "sas-mram")}
    assert (df["chip.cell_capacity_mibit"] == 12288).all()
    # LoRA rewrites its adapters every step; LoRAFusion writes nothing to the crossbars
    assert (df.loc[df["method"] == "lora", "write_energy_pj"] > 0).all()
    assert (df.loc[df["method"] == "lorafusion", "write_energy_pj"] == 0).all()


@pytest.mark.slow
def test_lora_vs_lorafusion_full_size_fits_on_chip(tmp_path, capsys):
    """The capacity override is what makes LoRAFusion's premise hold: at the full Flan-T5-large size
    both methods are resident, nothing is reloaded (about 10 s)."""
    out = tmp_path / "l"
    _sweep(STUDIES / "lora-vs-lorafusion.yaml", [], out, capsys)
    df = read_results(out)
    assert (df["status"] == "ok").all() and df["map_fits"].all() and (df["reload_weights"] == 0).all()
    assert (df["workload"] == "flan-t5-large").all()
