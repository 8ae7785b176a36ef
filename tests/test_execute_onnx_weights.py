"""An ONNX file's initializers as the weights of an executed network (``imcsim infer --workload x.onnx``).

Tiny models are built here with ``onnx.helper`` (nothing downloaded); onnx's own reference evaluator is
the independent check that the weights land where the model has them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from imcsim.cli.main import main  # noqa: E402
from imcsim.execute import fp32  # noqa: E402
from imcsim.workload.importers.onnx_import import import_onnx_params  # noqa: E402

RNG = np.random.default_rng(7)
W1 = RNG.normal(0, 0.5, (4, 1, 3, 3)).astype(np.float32)
B1 = RNG.normal(0, 0.1, 4).astype(np.float32)
BN = [RNG.uniform(0.8, 1.2, 4), RNG.normal(0, 0.1, 4), RNG.normal(0, 0.1, 4), RNG.uniform(0.5, 1.5, 4)]
W2 = RNG.normal(0, 0.5, (10, 4)).astype(np.float32)   # Gemm B with transB = 1: (out, in)
B2 = RNG.normal(0, 0.1, 10).astype(np.float32)


def _model(*, matmul=False, w1=W1, initializers=True, eps=1e-3):
    """x (N, 1, 8, 8) -> Conv 3x3 pad 1 (+bias) -> BatchNorm -> Relu -> GlobalAveragePool -> Flatten ->
    Gemm (transB, alpha 0.5, beta 2) or MatMul + Add -> (N, 10)."""
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(B1, "b1")]
    inits += [numpy_helper.from_array(v.astype(np.float32), n) for v, n in zip(BN, ("s", "bb", "m", "v"))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=eps),
             helper.make_node("Relu", ["n"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"])]
    if matmul:
        inits += [numpy_helper.from_array(W2.T.copy(), "w2"), numpy_helper.from_array(B2, "b2")]
        nodes += [helper.make_node("MatMul", ["f", "w2"], ["mm"]), helper.make_node("Add", ["mm", "b2"], ["y"])]
    else:
        inits += [numpy_helper.from_array(W2, "w2"), numpy_helper.from_array(B2, "b2")]
        nodes += [helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1, alpha=0.5, beta=2.0)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 8, 8])]
    if not initializers:   # weights as graph inputs: the file has no initializers
        inputs += [helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims)) for t in inits]
        inits = []
    graph = helper.make_graph(nodes, "tiny", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _save(tmp_path, model, name="tiny.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("matmul", [False, True])
def test_onnx_weights_reproduce_the_model(tmp_path, matmul):
    path = _save(tmp_path, _model(matmul=matmul))
    graph, params = import_onnx_params(path)
    conv, norm, head = (n.name for n in graph.nodes if n.op in ("conv", "norm", "linear"))
    assert np.array_equal(params[conv]["weight"], W1) and np.array_equal(params[conv]["bias"], B1)
    # the executed network adds 1e-5 to the variance; the model's epsilon is 1e-3
    assert np.allclose(params[norm]["var"] + 1e-5, BN[3].astype(np.float32) + 1e-3)
    scale = 1.0 if matmul else 0.5
    assert np.allclose(params[head]["weight"], scale * W2) and params[head]["weight"].shape == (10, 4)
    x = RNG.uniform(0, 1, (5, 1, 8, 8)).astype(np.float32)
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})[0]
    got = fp32.forward(graph, params, x.astype(np.float64))[graph.nodes[-1].name]
    assert np.allclose(got, want, rtol=1e-4, atol=1e-5)


def test_infer_runs_the_onnx_weights_and_the_study_prices_them(tmp_path, capsys):
    path = _save(tmp_path, _model())
    out = tmp_path / "run"
    assert main(["infer", "--workload", str(path), "--images", "30", "--check", "--calibration", "percentile",
                 "--out", str(out), "--format", "json"]) == 0
    capsys.readouterr()
    doc = json.loads((out / "measured.json").read_text())
    assert "ONNX initializers of tiny.onnx" in doc["source"] and "percentile" in doc["source"]
    with np.load(out / "weights.npz") as w:
        conv = next(k for k in w.files if w[k].ndim == 4)
        # per-channel INT8: each output channel's largest weight is +-127 and signs follow the float weights
        assert (np.abs(w[conv]).reshape(4, -1).max(axis=1) == 127).all()
        assert (np.sign(w[conv]) == np.sign(np.round(W1 / np.abs(W1).reshape(4, -1).max(1)[:, None, None, None]
                                                       * 127))).all()
    res = tmp_path / "res"
    assert main(["run", "--workload", str(path), "--set", f"measured={out}", "--out", str(res), "--no-report",
                 "--format", "json"]) == 0
    ledger = json.loads((res / "ledger.json").read_text())
    assert ledger["summary"]["map_measured_activity_phases"] == 2


def _one_line_exit_2(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    for n in needles:
        assert n in err
    return err


def test_onnx_without_initializers_is_one_line(tmp_path, capsys):
    path = _save(tmp_path, _model(initializers=False), "noinit.onnx")
    _one_line_exit_2(capsys, ["infer", "--workload", str(path)], "noinit.onnx", "initializer")


def test_nan_weights_are_one_line_and_keep_the_earlier_run(tmp_path, capsys):
    good, out = _save(tmp_path, _model()), tmp_path / "run"
    assert main(["infer", "--workload", str(good), "--images", "10", "--out", str(out)]) == 0
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    bad_w = W1.copy()
    bad_w[2, 0, 1, 1] = np.nan
    bad = _save(tmp_path, _model(w1=bad_w), "nan.onnx")
    _one_line_exit_2(capsys, ["infer", "--workload", str(bad), "--out", str(out)], "nan.onnx", "'w1'", "finite")
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before
