"""INT8 training with a higher-precision master copy: the arrays get the master rounded to INT8."""

from __future__ import annotations

import numpy as np
import pytest

from imcsim.errors import SpecError
from imcsim.execute import qnet as Q
from imcsim.execute import train, weights
from imcsim.execute.data import load_dataset
from imcsim.workload import zoo


@pytest.fixture(scope="module")
def batch():
    d = load_dataset("digits")
    return d.images[:16], d.labels[:16]


def _trainer(x, master):
    graph = zoo.build("digits-cnn")
    qnet = Q.quantize(graph, weights.random_params(graph, 0), x)
    return train.Int8Trainer(qnet, train.TrainOptions(method="last", lr_shift=6, master_copy=master), 0)


@pytest.mark.parametrize("master", ["int16", "fp32"])
def test_the_arrays_hold_the_master_rounded_to_int8(batch, master):
    x, y = batch
    t = _trainer(x, master)
    with train.single_thread():
        recs = [t.step(x, y) for _ in range(3)]
    m = t.master["classifier"]
    w = t.qnet.ops["classifier"].w
    if master == "int16":
        # 2^8 master steps per INT8 LSB, rounded half up: (m + 128) >> 8; e.g. 383 -> 1, 384 -> 2, -129 -> -1
        assert np.array_equal(w, np.clip((m + 128) >> 8, -127, 127))
        assert int(np.abs(m).max()) <= 127 << 8
    else:
        assert m.dtype == np.float32 and np.array_equal(w, np.floor(m.astype(np.float64) + 0.5).astype(np.int64))
    # each recorded update is the INT8 copy before and after; the master moved where the copy did not
    old, new = recs[-1].updates["classifier"]
    assert np.array_equal(new, w)
    changed_master = (m != (np.asarray(recs[0].updates["classifier"][0], np.int64) << 8 if master == "int16"
                            else recs[0].updates["classifier"][0].astype(np.float32))).sum()
    changed_copy = (w != recs[0].updates["classifier"][0]).sum()
    assert changed_master > changed_copy


def test_bad_master_copy_flag_is_a_spec_error():
    with pytest.raises(SpecError, match="--master-copy"):
        train.TrainOptions(master_copy="int4").check()
