"""ONNX importer: small models built with onnx.helper in the test (nothing downloaded)."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from imcsim.errors import SpecError  # noqa: E402
from imcsim.workload.importers import import_file  # noqa: E402
from imcsim.workload.importers.onnx_import import SUPPORTED, import_onnx  # noqa: E402


def _init(name, *shape, dtype=np.float32):
    return numpy_helper.from_array(np.ones(shape, dtype=dtype), name)


def _save(tmp_path, nodes, inits, in_shape, out_name="y", fname="m.onnx", in_dims=None):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, in_dims or [1, *in_shape])
    y = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    path = tmp_path / fname
    onnx.save(model, str(path))
    return path


def _cnn_nodes():
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["n1"], name="bn1"),
        n("Relu", ["n1"], ["r1"], name="relu1"),
        n("Conv", ["r1", "wdw"], ["c2"], name="dw", group=8, kernel_shape=[3, 3], strides=[2, 2],
          pads=[1, 1, 1, 1]),
        n("Constant", [], ["lo"], value=numpy_helper.from_array(np.array(0.0, np.float32))),
        n("Constant", [], ["hi"], value=numpy_helper.from_array(np.array(6.0, np.float32))),
        n("Clip", ["c2", "lo", "hi"], ["r6"], name="relu6"),
        n("HardSwish", ["r6"], ["hs"], name="hswish"),
        n("GlobalAveragePool", ["hs"], ["p"], name="se_pool"),
        n("Conv", ["p", "wse1", "bse1"], ["f1"], name="se_fc1", kernel_shape=[1, 1]),
        n("Relu", ["f1"], ["f1r"], name="se_relu"),
        n("Conv", ["f1r", "wse2", "bse2"], ["f2"], name="se_fc2", kernel_shape=[1, 1]),
        n("HardSigmoid", ["f2"], ["gate"], name="se_gate"),
        n("Mul", ["hs", "gate"], ["se"], name="se_scale"),
        n("Add", ["se", "hs"], ["res"], name="residual"),
        n("GlobalAveragePool", ["res"], ["p2"], name="pool"),
        n("Flatten", ["p2"], ["flat"], name="flatten"),
        n("Gemm", ["flat", "wfc", "bfc"], ["y"], name="fc", transB=1),
    ]
    inits = [_init("w1", 8, 3, 3, 3), _init("b1", 8), _init("s", 8), _init("bb", 8), _init("m", 8), _init("v", 8),
             _init("wdw", 8, 1, 3, 3), _init("wse1", 4, 8, 1, 1), _init("bse1", 4), _init("wse2", 8, 4, 1, 1),
             _init("bse2", 8), _init("wfc", 10, 8), _init("bfc", 10)]
    return nodes, inits


def test_cnn_with_se_and_residual(tmp_path):
    nodes, inits = _cnn_nodes()
    g = import_file(_save(tmp_path, nodes, inits, (3, 8, 8)))
    # params: conv1 8*3*9 + 8 = 224; bn 8 + 8 = 16; dw 8*9 = 72; SE fc1 4*8 + 4 = 36, fc2 8*4 + 8 = 40;
    # fc 10*8 + 10 = 90  -> 478
    assert g.n_params == 224 + 16 + 72 + 36 + 40 + 90 == 478
    # MACs: conv1 216 * 8*8 = 13,824; dw (stride 2, pad 1 -> 4x4) 72 * 16 = 1,152; SE 32 + 32; fc 80 -> 15,120
    assert g.macs == 13_824 + 1_152 + 32 + 32 + 80 == 15_120
    assert g["dw"].is_depthwise and g["dw"].out_shape == (8, 4, 4)
    assert g["relu6"].attrs["kind"] == "relu6" and g["hswish"].attrs["kind"] == "hswish"
    assert g["se_fc1"].op == "linear" and g["se_scale"].op == "mul" and g["se_scale"].out_shape == (8, 4, 4)
    assert g["residual"].inputs == ("se_scale", "hswish")
    assert "flatten" not in g  # a Flatten of a pooled vector changes nothing
    assert g["fc"].op == "linear" and g["fc"].out_shape == (10,) and "classifier" in g["fc"].tags
    assert g.input_shape == (3, 8, 8) and g.meta["source"] == "onnx" and not g.meta["qdq"]


def test_tokens_layernorm_matmul_bias_fold_gelu(tmp_path):
    n = helper.make_node
    nodes = [
        n("LayerNormalization", ["x", "g", "beta"], ["ln"], name="ln", axis=-1),
        n("MatMul", ["ln", "w1"], ["h"], name="fc1"),
        n("Add", ["h", "b1"], ["hb"], name="fc1_bias"),
        n("Gelu", ["hb"], ["a"], name="gelu"),
        n("MatMul", ["a", "w2"], ["o"], name="fc2"),
        n("Add", ["o", "b2"], ["ob"], name="fc2_bias"),
        n("Add", ["ob", "x"], ["r"], name="residual"),
        n("Softmax", ["r"], ["sm"], name="softmax"),
        n("Constant", [], ["shape"], value=numpy_helper.from_array(np.array([1, -1], np.int64))),
        n("Reshape", ["sm", "shape"], ["y"], name="to_vector"),
    ]
    inits = [_init("g", 16), _init("beta", 16), _init("w1", 16, 32), _init("b1", 32), _init("w2", 32, 16),
             _init("b2", 16)]
    g = import_onnx(_save(tmp_path, nodes, inits, (4, 16)))
    # params: LN 16 + 16; fc1 16*32 + 32 (folded Add); fc2 32*16 + 16 -> 1104
    assert g.n_params == 32 + 544 + 528 == 1104
    # MACs: 4 tokens x (16*32 + 32*16) = 4096
    assert g.macs == 4 * (16 * 32 + 32 * 16) == 4096
    assert g["fc1"].params == {"weight": 512, "bias": 32} and g["fc1"].attrs["bias"]
    assert "fc1_bias" not in g and g["gelu"].inputs == ("fc1",)
    assert g["to_vector"].op == "flatten" and g["to_vector"].out_shape == (64,)


def test_qdq_passthrough_pools_concat(tmp_path):
    n = helper.make_node
    nodes = [
        n("QuantizeLinear", ["x", "sc", "zp"], ["xq"], name="q_in"),
        n("DequantizeLinear", ["xq", "sc", "zp"], ["xd"], name="dq_in"),
        n("DequantizeLinear", ["wq", "sc", "zp"], ["wd"], name="dq_w"),
        n("Conv", ["xd", "wd"], ["c"], name="conv", kernel_shape=[1, 1]),
        n("MaxPool", ["c"], ["mp"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]),
        n("AveragePool", ["c"], ["ap"], name="avgpool", kernel_shape=[2, 2], strides=[2, 2]),
        n("Concat", ["mp", "ap"], ["y"], name="cat", axis=1),
    ]
    inits = [_init("sc", dtype=np.float32), numpy_helper.from_array(np.array(0, np.int8), "zp"),
             _init("wq", 2, 3, 1, 1, dtype=np.int8)]
    g = import_onnx(_save(tmp_path, nodes, inits, (3, 4, 4)))
    # the conv reads the dequantised input directly: weight 2*3 = 6, MACs 6 * 16 = 96
    assert g["conv"].inputs == ("input",) and g.n_params == 6 and g.macs == 96
    assert g["cat"].out_shape == (4, 2, 2) and g.meta["qdq"]
    assert g["maxpool"].attrs["kind"] == "max" and g["avgpool"].attrs["kind"] == "avg"


def test_unsupported_op_names_file_node_and_op(tmp_path):
    nodes = [helper.make_node("Resize", ["x"], ["y"], name="up")]
    path = _save(tmp_path, nodes, [], (3, 4, 4), fname="bad.onnx")
    with pytest.raises(SpecError) as exc:
        import_onnx(path)
    msg = str(exc.value)
    assert "bad.onnx" in msg and "graph.node[0] up" in msg and "unsupported ONNX op type 'Resize'" in msg
    assert all(op in msg for op in SUPPORTED) and "\n" not in msg


@pytest.mark.parametrize("nodes,inits,match", [
    # Add of (8, 4, 4) and (8, 2, 2)
    ([helper.make_node("Conv", ["x", "w"], ["a"], name="c1", kernel_shape=[1, 1]),
      helper.make_node("Conv", ["x", "w"], ["b"], name="c2", kernel_shape=[1, 1], strides=[2, 2]),
      helper.make_node("Add", ["a", "b"], ["y"], name="bad_add")],
     [_init("w", 8, 3, 1, 1)], r"graph.node\[2\] bad_add: shape mismatch"),
    # weight for 4 input channels on a 3-channel input
    ([helper.make_node("Conv", ["x", "w"], ["y"], name="c", kernel_shape=[1, 1])],
     [_init("w", 8, 4, 1, 1)], "shape mismatch: the weights expect 4 channels"),
    ([helper.make_node("Conv", ["x", "w"], ["y"], name="c", kernel_shape=[3, 3], pads=[0, 0, 1, 1])],
     [_init("w", 8, 3, 3, 3)], "asymmetric"),
    ([helper.make_node("Flatten", ["x"], ["f"], name="f"), helper.make_node("Gemm", ["f", "w"], ["y"], name="fc")],
     [_init("w", 47, 10)], "weight expects 47 input features"),
    ([helper.make_node("Flatten", ["x"], ["f"], name="f"), helper.make_node("MatMul", ["f", "f"], ["y"], name="mm")],
     [], "two activations"),
    ([helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="clip")],
     [_init("lo"), _init("hi")], "Clip bounds"),
])
def test_bad_models_are_one_line_errors(tmp_path, nodes, inits, match):
    path = _save(tmp_path, nodes, inits, (3, 4, 4))
    with pytest.raises(SpecError, match=match) as exc:
        import_onnx(path)
    assert "\n" not in str(exc.value) and "m.onnx" in str(exc.value)


def test_symbolic_input_needs_input_shape(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="r")]
    path = _save(tmp_path, nodes, [], (3, 4, 4), in_dims=["N", 3, "H", "W"])
    with pytest.raises(SpecError, match="input dimensions unknown"):
        import_onnx(path)
    g = import_onnx(path, input_shape=(3, 16, 16))
    assert g["r"].out_shape == (3, 16, 16)


def test_not_an_onnx_file(tmp_path):
    f = tmp_path / "junk.onnx"
    f.write_bytes(b"\x00not a protobuf at all\xff" * 10)
    with pytest.raises(SpecError, match="junk.onnx"):
        import_onnx(f)
    with pytest.raises(SpecError, match="does not exist"):
        import_onnx(tmp_path / "none.onnx")
