"""Bad user datasets for imcsim infer/train: one line naming the file, the field and what is allowed;
exit 2; an earlier run folder left as it was."""

from __future__ import annotations

import numpy as np
import pytest

from imcsim.cli.main import main

GOOD = np.random.default_rng(0).uniform(0, 16, (20, 8, 8))
LABELS = np.arange(20) % 10


@pytest.mark.parametrize("images,labels,needles", [
    (GOOD > 8, LABELS, ["images", "bool"]),                                     # wrong dtype
    (GOOD.reshape(20, 64), LABELS, ["images", "(20, 64)"]),                     # wrong shape
    (GOOD, LABELS.astype(np.float64), ["labels", "float64"]),                   # float labels
    (GOOD, LABELS[:19], ["labels", "(19,)"]),                                   # one label short
    (GOOD, LABELS - 1, ["label out of range", "-1"]),                           # negative label
    (GOOD, LABELS + 5, ["label out of range", "14", "0..9"]),                   # beyond the 10 outputs
    (np.repeat(GOOD[:, None], 3, axis=1), LABELS, ["images", "3 channels"]),    # RGB into a 1-channel net
    (GOOD[:1], LABELS[:1], ["images", "at least 2"]),                           # nothing to hold out
    (np.where(GOOD > 15, np.nan, GOOD), LABELS, ["images", "NaN"]),             # NaN pixels
])
@pytest.mark.parametrize("command", ["infer", "train"])
def test_bad_dataset_is_one_line_exit_2(tmp_path, capsys, command, images, labels, needles):
    path = tmp_path / "bad.npz"
    np.savez(path, images=images, labels=labels)
    out = tmp_path / "run"
    out.mkdir()
    (out / "measured.json").write_text("{earlier}")
    assert main([command, "--dataset", str(path), "--out", str(out), "--steps", "1"][:5 if command == "infer" else 7]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "bad.npz" in err and all(n in err for n in needles), err
    assert [f.name for f in out.iterdir()] == ["measured.json"] and (out / "measured.json").read_text() == "{earlier}"
