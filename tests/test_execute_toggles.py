"""Execution records what the toggle activity model needs and what reloads are priced with: per layer the
adder-tree toggle counts of its runs, and the INT8 weights the run ended with."""

from __future__ import annotations

import json

import numpy as np

from imcsim.cli.main import main


def test_execution_records_toggles_that_match_a_direct_count():
    """Per layer the toggles of its im2col vectors against its weights, per group on its own trees."""
    from imcsim.circuit.reference import im2col
    from imcsim.circuit.toggle import toggle_activity
    from imcsim.execute import infer
    from imcsim.execute.data import load_dataset
    from imcsim.execute.runfolder import activity_records
    from imcsim.execute.session import build_network, fit_images
    from imcsim.workload.cards import load_workload

    graph = load_workload("digits-cnn")
    train, test = load_dataset("digits").split(0.3, seed=0)
    net = build_network(graph, train)
    codes = infer.quantize_input(net.qnet, fit_images(test.images[:3], graph.input_shape))
    run = infer.run(net.qnet, codes, keep=True, toggle_rows=16)
    # sep1.dw: depthwise, 32 groups of one channel: each group's tree sees its own 3x3 window
    op = net.qnet.ops["sep1.dw"]
    x = run.tensors[graph["sep1.dw"].inputs[0]]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=op.in_zp)
    cols = im2col(xp, 3, 3, graph["sep1.dw"].attrs["stride"], 0)[0].reshape(-1, 32 * 9)
    w = op.w.reshape(32, 9)
    want = sum(toggle_activity(cols[:, 9 * g:9 * g + 9], w[g:g + 1].T, 8, 8, 16).and_toggles for g in range(32))
    assert run.toggles["sep1.dw"].and_toggles == want > 0
    recs = activity_records({(k, "forward"): a for k, a in run.activity.items()},
                            {(k, "forward"): t for k, t in run.toggles.items()}, 16)
    rec = next(r for r in recs if r["node"] == "sep1.dw")
    assert rec["and_toggles"] == want and rec["toggle_rows_parallel"] == 16
    # the recorded toggles cover exactly the products the kernels counted
    assert run.toggles["sep1.dw"].and_slots == run.activity["sep1.dw"].and_slots * 64


def test_infer_run_folder_holds_toggles_and_weights(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["infer", "--images", "20", "--out", str(out), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    doc = json.loads((out / "measured.json").read_text())
    # the adder-tree toggles of every layer, counted for the preset's 64-input trees
    assert all(a["toggle_rows_parallel"] == 64 and 0 < a["and_toggles"] < 64 * a["and_slots"] for a in doc["activity"])
    with np.load(out / "weights.npz") as w:
        assert sorted(w.files) == sorted(f"w:{r['layer']}" for r in rows) and w["w:stem.conv"].dtype == np.int8
