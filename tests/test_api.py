"""The Python API (imcsim.run / sweep / compare / load_study) and the example notebook that uses it."""
from __future__ import annotations

from pathlib import Path

import pytest

import imcsim
from imcsim.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny() -> imcsim.Result:
    return imcsim.run(device="sas-mram", workload="tiny-cnn", method="last", rows=64)


def test_run_returns_the_inputs_with_the_metrics(tiny):
    s = tiny.summary()
    # what ran comes first, then the headline answer
    assert list(s)[:6] == ["run", "device", "accelerator", "workload", "method", "batch"]
    assert list(s)[6:9] == ["latency_ns", "energy_pj", "tops_per_w"]
    assert (s["device"], s["workload"], s["method"], s["rows"]) == ("sas-mram", "tiny-cnn", "last", 64)
    assert s["accelerator"] == "acc-sas-mram"  # the preset the engine chose, filled in
    assert s["energy_pj"] == pytest.approx(sum(tiny.energy_by_component_pj.values()))
    # TOPS/W = 2 ops per MAC / energy: ops per pJ is TOPS/W
    assert s["tops_per_w"] == pytest.approx(2 * s["macs"] / s["energy_pj"])
    frame = tiny.to_frame()
    assert len(frame) == 1 and frame.loc[0, "device"] == "sas-mram"
    layers = tiny.layers
    assert {"op", "phase", "energy_pj", "macs"} <= set(layers.columns)
    assert layers["energy_pj"].sum() <= s["energy_pj"]  # leakage is charged per step, not per op
    assert "latency" in repr(tiny) and "sas-mram" in repr(tiny)


def test_run_accepts_a_mapping_a_study_and_set_fields(tiny):
    again = imcsim.run({"device": "sas-mram", "workload": "tiny-cnn", "method": "last"}, rows=64)
    assert again.summary()["energy_pj"] == tiny.summary()["energy_pj"]
    smaller = imcsim.run(again.study, set={"chip.tiles": 8})
    assert smaller.summary()["chip.tiles"] == 8 and smaller.summary()["rows"] == 64


def test_load_study_items_run_as_they_are(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text("workload: tiny-cnn\nmacro: {rows: 64}\nruns:\n  - {name: mram, device: sas-mram}\n  - {name: rram, device: reram}\n")
    studies = imcsim.load_study(path)
    assert [s.device for s in studies] == ["sas-mram", "reram"] and [s.name for s in studies] == ["mram", "rram"]
    results = imcsim.run(studies)
    assert [r.summary()["device"] for r in results] == ["sas-mram", "reram"]
    frame = imcsim.run(path).to_frame()
    assert list(frame["run"]) == [s.name for s in studies]


def test_bad_input_names_the_field():
    with pytest.raises(SpecError, match="rowz"):
        imcsim.run(workload="tiny-cnn", set={"rowz": 3})
    with pytest.raises(SpecError, match="workload"):
        imcsim.run(device="sas-mram")


def test_sweep_and_compare_return_inputs_and_outputs(tmp_path):
    # the subpackages of the same names are imported by other code: the names must stay callable
    import imcsim.compare  # noqa: F401
    import imcsim.sweep.spec  # noqa: F401

    assert imcsim.sweep.run_sweep and imcsim.compare.record  # still the modules, too
    df = imcsim.sweep(workload="tiny-cnn", device=["sas-mram", "reram", "stt-mram"], rows=[64, 128],
                      out=tmp_path / "s")
    assert list(df[["device", "rows"]].itertuples(index=False, name=None)) == [
        ("sas-mram", 64), ("sas-mram", 128), ("reram", 64), ("reram", 128), ("stt-mram", 64), ("stt-mram", 128)]
    # every row names the chip it ran on: stt-mram has no preset of its own
    assert list(df["accelerator"]) == ["acc-sas-mram"] * 2 + ["acc-reram"] * 2 + ["acc-sas-mram"] * 2
    assert (df["status"] == "ok").all() and (df["energy_pj"] > 0).all()
    assert df.attrs["out"] == str(tmp_path / "s")
    cmp = imcsim.compare(["sas-mram", "reram"], "tiny-cnn", ["last"])
    assert list(cmp["device"]) == ["sas-mram", "reram"] and cmp.loc[0, "energy_vs_first"] == 1.0


@pytest.mark.slow
def test_example_notebook_runs():
    nbformat = pytest.importorskip("nbformat", reason="dev extra")  # listed in setup.cfg [dev]
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "examples" / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "examples")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("latency" in str(o.get("data", {}).get("text/plain", "")) for o in outputs)


def test_a_device_without_its_own_preset_names_the_chip_it_ran_on(tiny):
    # stt-mram has a card but no devices/acc-stt-mram.yaml: it runs on acc-sas-mram's chip, and says so
    r = imcsim.run(device="stt-mram", workload="tiny-cnn", method="last", rows=64)
    assert r.summary()["accelerator"] == "acc-sas-mram"
    note = r.ledger.assumptions[0]
    assert note.startswith("device stt-mram has no accelerator preset of its own (acc-stt-mram)")
    assert "chip of acc-sas-mram" in note
    # a device with its own preset, or a chip chosen on purpose, carries no such note
    assert not any("no accelerator preset" in a for a in tiny.ledger.assumptions)
    chosen = imcsim.run(device="stt-mram", accelerator="acc-sot-mram", workload="tiny-cnn", method="last", rows=64)
    assert chosen.summary()["accelerator"] == "acc-sot-mram"
    assert not any("no accelerator preset" in a for a in chosen.ledger.assumptions)
