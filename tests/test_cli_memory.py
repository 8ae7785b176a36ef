"""``imcsim memory``: the compare table and one-line errors."""

import json

from cli_helpers import run_imcsim

from imcsim.cli.main import main


def test_compare_table_proxylessnas_tinytl_setup(capsys):
    rc = main(["memory", "--workload", "proxylessnas-mobile", "--method",
               "full,last,norm+last,bias,lite-residual,repnet", "--compare", "--resolution", "224",
               "--batch", "8", "--classes", "102", "--format", "json"])
    assert rc == 0
    recs = {r["method"]: r for r in json.loads(capsys.readouterr().out)}
    assert list(recs) == ["full", "last", "norm+last", "bias", "lite-residual", "repnet"]
    for r in recs.values():
        # Mem = B * A_peak + P (MB = 1e6 B), to the rounding of the printed columns
        assert abs(r["total_mb"] - (8 * r["peak_activation_mb"] + r["param_mb"])) < 1e-3
    # last: classifier 1280*102 + 102 = 130,662 trainable (fp32); everything else frozen 8-bit:
    # backbone 4,080,512 - 1,281,000 (1000-class FC) + 1,816,416 lite residuals = 4,615,928 frozen
    # P = 4*130,662 + 4,615,928 = 5,138,576 B; A_peak = 3,211,264 B (test_workload_methods)
    assert recs["last"]["trainable_params"] == 130_662
    assert recs["last"]["param_mb"] == round(5_138_576 / 1e6, 4)
    assert recs["last"]["total_mb"] == round((8 * 3_211_264 + 5_138_576) / 1e6, 4)
    # orderings the convention implies: full >> norm+last >> lite-residual > bias > last
    t = {m: r["total_mb"] for m, r in recs.items()}
    assert t["full"] > t["norm+last"] > t["lite-residual"] > t["bias"] > t["last"]
    assert recs["bias"]["imc_weights_written_per_step"] == 1280 * 102  # only the classifier matrix


def test_table_output_is_one_table(capsys):
    assert main(["memory", "--workload", "resnet18", "--method", "last,bias", "--compare", "--classes", "10"]) == 0
    out = capsys.readouterr().out
    assert out.count("trainable_params") == 1 and "bias" in out


def _run(*args):
    return run_imcsim("memory", *args)


def test_unsupported_method_exits_2_with_one_line():
    p = _run("--workload", "resnet18", "--method", "lorafusion")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "lorafusion" in lines[0] and "resnet18" in lines[0]


def test_several_methods_without_compare_exit_2():
    p = _run("--workload", "resnet18", "--method", "last,bias")
    assert p.returncode == 2 and "--compare" in p.stderr
