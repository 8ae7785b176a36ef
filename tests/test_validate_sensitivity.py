"""Sensitivity sweeps: files written, curves monotone where physics says so."""

import numpy as np
import pytest

from imcsim.errors import SpecError
from imcsim.validate import sensitivity as sens


def test_read_energy_sweep_files_and_monotonicity(tmp_path):
    spec, label = sens.load_study(None, "sas-mram")
    values = sens.parse_range("3:30", 7)
    records, summary, paths = sens.run(spec, label, "read_energy_per_bit_fj", values, "tops_per_w", tmp_path)
    assert [p.name for p in paths] == ["sensitivity.csv", "sensitivity.png", "sensitivity.svg"]
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "<svg" in paths[2].read_text()
    assert len(paths[0].read_text().strip().splitlines()) == 1 + 7
    tops_w = np.array([r["tops_per_w"] for r in records])
    e_mac = np.array([r["energy_fj_per_mac"] for r in records])
    assert np.all(np.diff(tops_w) < 0)          # TOPS/W falls as the read energy rises
    assert np.all(np.diff(e_mac) > 0)
    # the read energy enters the MAC energy linearly: constant steps
    assert np.allclose(np.diff(e_mac), np.diff(e_mac)[0], rtol=1e-9)
    assert np.allclose([r["tops"] for r in records], records[0]["tops"])   # throughput untouched
    assert summary["study_value"] == 5 and summary["min"] == tops_w[-1] and summary["max"] == tops_w[0]


def test_clock_sweep_scales_throughput(tmp_path):
    spec, label = sens.load_study("fp-smr-tops-per-w", None)
    records = sens.sweep(spec, "clock_mhz", [350.0, 700.0])
    assert records[1]["tops"] == pytest.approx(2 * records[0]["tops"], rel=1e-12)


def test_study_yaml(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("kind: macro\ndevice: sot-mram\nrows: 64\ncols: 64\nrows_parallel: 64\nnode_nm: 22\n")
    spec, label = sens.load_study(str(path), None)
    assert (spec.device, spec.rows, label) == ("sot-mram", 64, "m")
    path.write_text("kind: macro\ndevice: sot-mram\nrows: 64\n")
    with pytest.raises(SpecError, match="m.yaml: cols: missing required field"):
        sens.load_study(str(path), None)


@pytest.mark.parametrize("text", ["3:3", "3", "a:b", "3:inf", ""])
def test_bad_ranges(text):
    with pytest.raises(SpecError, match="--range"):
        sens.parse_range(text, 5)


def test_unknown_param_lists_allowed():
    spec, _ = sens.load_study(None, "sas-mram")
    with pytest.raises(SpecError, match="--param.*read_energy_per_bit_fj"):
        sens.sweep(spec, "read_energy_fj", [1.0, 2.0])
