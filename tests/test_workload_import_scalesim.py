"""SCALE-Sim topology CSV importer: totals of the shipped test files, modes, and one-line errors."""

from pathlib import Path

import pytest

from imcsim.errors import SpecError
from imcsim.workload import zoo
from imcsim.workload.importers import import_file
from imcsim.workload.importers.scalesim import import_scalesim

DATA = Path(__file__).parent / "data" / "scalesim"  # SCALE-Sim topology files, as distributed with SCALE-Sim


def test_resnet18_csv_matches_zoo_macs():
    g = import_scalesim(DATA / "resnet18.csv")
    # README of the data: ResNet-18 at 224 = 1,814,073,344 MACs (20 conv + FC), = reference section 11.1
    assert g.macs == 1_814_073_344 == zoo.build("resnet18").macs
    # 20 convs + FC; parameters = 11,689,512 - 9,600 BN - 1,000 FC bias (SCALE-Sim has neither)
    assert len(g.weight_nodes()) == 21
    assert g.n_params == 11_689_512 - 9_600 - 1_000
    # padded 230x230 input, 7x7 stride 2, no padding: floor((230 - 7) / 2) + 1 = 112
    assert g.input_shape == (3, 230, 230) and g["Conv1"].out_shape == (64, 112, 112)
    fc = g["FC"]
    assert fc.op == "linear" and fc.in_shape == (512,) and "classifier" in fc.tags
    assert g["Conv3_ds.ifmap"].op == "input" and g["Conv3_ds"].inputs == ("Conv3_ds.ifmap",)
    assert g.meta["mode"] == "conv" and g.meta["output_rounding"] == "floor"


def test_mobilenetv2_lumped_depthwise():
    dense = import_scalesim(DATA / "mobilenetv2_dwlumped.csv")
    lumped = import_scalesim(DATA / "mobilenetv2_dwlumped.csv", depthwise="lumped")
    # README: MobileNetV2 = 300,774,272 MACs (52 conv + FC), = reference section 11.2
    assert dense.macs == lumped.macs == 300_774_272
    # parameters without BN and FC bias: 3,504,872 - 34,112 - 1,000
    assert dense.n_params == lumped.n_params == 3_504_872 - 34_112 - 1_000
    # B2_dw: 114x114 padded, 3x3 stride 2, 96 channels -> 56x56
    d, lp = dense["B2_dw"], lumped["B2_dw"]
    assert d.attrs["in_ch"] == 1 and d.attrs["groups"] == 1 and not d.is_depthwise
    assert lp.is_depthwise and lp.attrs["groups"] == 96 and lp.out_shape == (96, 56, 56)
    # the stem (3 channels) stays dense in lumped mode
    assert not lumped["Conv1"].is_depthwise


def test_gemm_mode(tmp_path):
    f = tmp_path / "mnk.csv"
    f.write_text("Layer Name, M, N, K,\nQKT,1024,1024,64,\nFF1, 16, 3072, 768,\n")
    g = import_file(f)
    # SCALE-Sim runs M x K against N filters of K: MACs M*N*K
    assert g["QKT"].macs == 1024 * 1024 * 64 and g["FF1"].macs == 16 * 3072 * 768
    assert g["FF1"].gemm_shape() == (1, 16, 768, 3072)
    assert g.meta["mode"] == "gemm" and g.input_shape == (1024, 64)


def test_groups_column_and_ignored_column(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                 "Strides, Groups,\ndw,10,10,3,3,16,16,1,16,\npw,8,8,1,1,16,32,1,1,\n")
    g = import_scalesim(f)
    # depthwise 16 channels 3x3 on a padded 10x10 -> 8x8: 16*9 weights x 64 positions
    assert g["dw"].is_depthwise and g["dw"].macs == 16 * 9 * 64
    f2 = tmp_path / "v3.csv"
    f2.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                  "Strides, Sparsity,\nc,10,10,3,3,4,8,1,2:4,\n")
    g2 = import_scalesim(f2)
    assert g2.meta["ignored_columns"] == ["Sparsity"] and g2["c"].macs == 4 * 9 * 8 * 64


@pytest.mark.parametrize("text,match", [
    ("", "empty"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n",
     "no layer rows"),
    ("a,b,c\n1,2,3\n", "header not recognised"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
     "c1,10,10,3,3,4\n", "expected 8 fields"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
     "c1,10,ten,3,3,4,8,1,\n", r"line 2 \(c1\)\.IFMAP Width: bad value 'ten'"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
     "c1,2,2,3,3,4,8,1,\n", r"line 2 \(c1\).*impossible layer"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
     "c1,8,8,3,3,4,8,1,\nc1,8,8,3,3,4,8,1,\n", "duplicate layer name"),
])
def test_malformed_files_are_one_line_errors(tmp_path, text, match):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(SpecError, match=match) as exc:
        import_scalesim(f)
    assert "\n" not in str(exc.value) and str(f) in str(exc.value)


def test_missing_file_and_bad_option(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        import_scalesim(tmp_path / "nope.csv")
    with pytest.raises(SpecError, match="depthwise"):
        import_scalesim(DATA / "resnet18.csv", depthwise="grouped")
    with pytest.raises(SpecError, match="unknown workload file format"):
        import_file(tmp_path / "model.txt")
