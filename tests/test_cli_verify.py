"""``imcsim verify``: the per-layer table, formats, exit codes."""

import json

import pytest
from cli_helpers import run_imcsim

from imcsim.cli.main import main


def test_verify_tiny_cnn_json(capsys):
    assert main(["verify", "--workload", "tiny-cnn", "--format", "json", "--seed", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 12 and all(r["max_abs_error"] == 0 for r in rows)
    assert {"layer", "macs", "input_bit_density", "and_density", "kernel_ms", "reference_ms"} <= set(rows[0])
    assert rows[0]["layer"] == "stem.conv" and rows[0]["input"] == "signed"


def test_verify_one_layer_csv_with_narrow_widths(capsys):
    assert main(["verify", "--workload", "tiny-cnn", "--layer", "irb1.dw", "--in-bits", "4", "--w-bits", "3",
                 "--batch", "2", "--resolution", "16", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("irb1.dw,conv,32,")


def test_verify_table_has_a_total(capsys):
    assert main(["verify", "--workload", "tiny-cnn"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("tiny-cnn: 12 layers")
    assert out.splitlines()[-2].split()[0] == "total"
    assert out.splitlines()[-1] == "verdict: 12/12 layers bit-exact"


def test_verify_mismatch_exits_1(capsys, monkeypatch):
    from imcsim.execute import functional

    real = functional.reference_layer
    monkeypatch.setattr(functional, "reference_layer", lambda node, x, w: real(node, x, w) - 1)
    assert main(["verify", "--workload", "tiny-cnn", "--layer", "res1.conv1", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["max_abs_error"] == 1
    assert "res1.conv1" in captured.err


@pytest.mark.parametrize("flags, needle", [(["--layer", "nope"], "unknown layer"), (["--in-bits", "9"], "in-bits"),
                                           (["--batch", "0"], "batch")])
def test_bad_flags_are_one_line_exit_2(flags, needle):
    out = run_imcsim("verify", "--workload", "tiny-cnn", *flags)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and needle in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_verify_resnet18_224_is_bit_exact(capsys):
    assert main(["verify", "--workload", "resnet18", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 21 and all(r["max_abs_error"] == 0 for r in rows)
    from imcsim.workload import zoo

    # every MAC of the network went through the kernel: ResNet-18 at 224x224 is 1.82 GMAC (torchvision 1.81 GFLOPS)
    assert sum(r["macs"] for r in rows) == zoo.build("resnet18").macs
    assert 1.80e9 < zoo.build("resnet18").macs < 1.83e9
