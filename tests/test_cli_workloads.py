"""``imcsim workloads`` and ``imcsim workloads show``: in-process for output, subprocess for exit codes."""

import json

from cli_helpers import run_imcsim

from imcsim.cli.main import main


def test_list_json_has_every_card_with_reference_totals(capsys):
    assert main(["workloads", "--format", "json"]) == 0
    rows = {r["workload"]: r for r in json.loads(capsys.readouterr().out)}
    # published totals ([MOBILENETV2], [PROXYLESSNAS], [RESNET]) at the cards' defaults (224, 1000 classes)
    assert rows["proxylessnas-mobile"]["params"] == 4_080_512
    assert rows["proxylessnas-mobile"]["macs"] == 320_427_584
    assert rows["mobilenetv2"]["macs"] == 300_774_272
    assert rows["flan-t5-large"]["params"] == 783_150_080
    # tiny-cnn: 12 weight layers (stem, 2 res convs, irb1 3 convs, irb2 3 convs + 2 SE linears, classifier)
    assert rows["tiny-cnn"]["weight_layers"] == 1 + 2 + 3 + 3 + 2 + 1
    assert rows["resnet18-scalesim"]["model"] == "resnet18-scalesim.csv"
    assert all(r["source"] for r in rows.values())


def test_show_table_with_overrides(capsys):
    assert main(["workloads", "show", "tiny-cnn", "--resolution", "16", "--classes", "3", "--batch", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    # title: params 4,826 - 170 + 51 (3-class head); MACs scale by (16/32)^2 except SE and FC
    assert out[0].startswith("tiny-cnn: input 3x16x16, batch 4, 4,707 params")
    assert out[1].split() == ["layer", "op", "kind", "in_shape", "out_shape", "params", "macs", "block"]
    dw = next(line for line in out if line.startswith("irb1.dw "))
    # depthwise 3x3 stride 2 on 32x16x16 -> 32x8x8: 288 weights x 64 positions = 18,432 MACs
    assert dw.split() == ["irb1.dw", "conv", "dw3x3/s2", "32x16x16", "32x8x8", "288", "18,432", "irb1"]


def test_show_weights_only_csv(capsys):
    assert main(["workloads", "show", "mobilenetv2", "--weights-only", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # 52 convs + FC (reference 11.2 rows 0..52) + the header line
    assert len(lines) == 54 and lines[0] == "layer,op,kind,in_shape,out_shape,params,macs,block"
    assert lines[-1].startswith("classifier,linear,,1280,1000,1281000,1280000")


def test_show_t5_seq_len(capsys):
    assert main(["workloads", "show", "flan-t5-large", "--seq-len", "8", "--dec-len", "2", "--format", "json"]) == 0
    rows = {r["layer"]: r for r in json.loads(capsys.readouterr().out)}
    # q of an encoder layer: 8 tokens x 1024 x 1024
    assert rows["encoder.0.SelfAttention.q"]["macs"] == 8 * 1024 * 1024
    assert rows["encoder.0.SelfAttention.scores"]["out_shape"] == "16x8x8"


def test_errors_are_one_line_exit_2():
    for argv, needle in [
        (["workloads", "show", "resnet20"], "unknown workload 'resnet20'"),
        (["workloads", "show", "flan-t5-large", "--resolution", "224"], "<flags>: resolution"),
        (["workloads", "show", "resnet18", "--batch", "0"], "<flags>: batch"),
    ]:
        out = run_imcsim(*argv)
        assert out.returncode == 2, argv
        err = out.stderr.strip()
        assert err.startswith("imcsim: error: ") and needle in err and "\n" not in err and "Traceback" not in err
