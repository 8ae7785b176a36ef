"""Sample tables, the accuracy predictor, the searches (SHGO against exhaustive) and `imcsim nas`."""

import math

import numpy as np
import pytest

from imcsim.cli.main import main
from imcsim.errors import SpecError
from imcsim.nas import flow, predictor, samples, search
from imcsim.nas.hardware import HardwareModel
from imcsim.nas.space import load_space

HEADER = "family,resolution,classes,cells,stem,expand,kernel,depth,width,skips,accuracy,source\n"
# Synthetic rows for tests only (not measurements): NN-Degree of each network by the closed form,
# cells (d, w, t): 2 w (d + L) / (d + 1).
ROWS = ["densenet,8,10,2,8,4,3,1-1,8-8,0-0,0.85,synthetic test data",
        "densenet,8,10,2,8,4,3,2-2,16-16,1-1,0.95,synthetic test data",
        "densenet,8,10,2,8,4,3,2-1,8-16,0-0,0.90,synthetic test data",
        "densenet,8,10,2,8,4,3,1-2,16-8,0-1,0.91,synthetic test data",
        "densenet,8,10,2,8,4,3,2-2,8-8,1-1,0.89,synthetic test data"]


def _table(tmp_path, rows=ROWS, header=HEADER):
    p = tmp_path / "samples.csv"
    p.write_text(header + "\n".join(rows) + "\n")
    return p


def test_read_recomputes_nn_degree(tmp_path):
    s = samples.read(_table(tmp_path))
    # row 2: cells d=2, w=16, t=1 -> L = 1; 2*16*(2+1)/3 = 32 per cell; two cells -> 64
    assert s[1].nn_degree == pytest.approx(64.0)
    assert s[1].accuracy == 0.95 and s[1].source == "synthetic test data"


@pytest.mark.parametrize("header, rows, field", [
    (HEADER.replace("source\n", "source,colour\n"), [r + ",red" for r in ROWS], "unknown column"),
    (HEADER.replace(",source", ""), [r.rsplit(",", 1)[0] for r in ROWS], "missing column"),
    (HEADER, [ROWS[0].replace("0.85", "85")] + ROWS[1:], "accuracy"),
    (HEADER, [ROWS[0].replace(",synthetic test data", ",")] + ROWS[1:], "source"),
    (HEADER, [ROWS[0].replace("1-1,8-8", "1-x,8-8")] + ROWS[1:], "line 2"),
    (HEADER, ROWS[:2], "too few"),
])
def test_bad_sample_tables(tmp_path, header, rows, field):
    with pytest.raises(SpecError, match=field):
        samples.read(_table(tmp_path, rows, header))


def test_predictor_recovers_an_exact_log_quadratic():
    # accuracy = 0.5 + 0.2 ln g - 0.02 (ln g)^2 exactly: the fit returns those coefficients and R^2 = 1
    g = np.array([10.0, 20.0, 40.0, 80.0, 160.0, 320.0])
    acc = 0.5 + 0.2 * np.log(g) - 0.02 * np.log(g) ** 2
    fake = [samples.Sample({}, float(a), "synthetic", float(d), 0, (float(d),)) for d, a in zip(g, acc)]
    p = predictor.fit(fake, "log-quadratic")
    np.testing.assert_allclose(p.coef, [0.5, 0.2, -0.02], atol=1e-9)
    assert p.quality["r2_cv"] == pytest.approx(1.0) and p.quality["spearman_cv"] == pytest.approx(1.0)
    # at g = e^5: 0.5 + 1.0 - 0.5 = 1.0
    assert p.predict(np.array([[math.exp(5.0)]]))[0] == pytest.approx(1.0)


def test_cell_log_linear_recovers_its_coefficients_and_the_holdout_is_never_fitted():
    # accuracy = 0.4 + 0.05 ln g_1 + 0.08 ln g_2 exactly, on 2-cell networks: the fit returns those
    # coefficients, R^2 = 1 and rank correlations 1 in cross-validation and on a held-out table
    rng = np.random.default_rng(3)
    cells = rng.uniform(5.0, 60.0, (12, 2))
    acc = 0.4 + 0.05 * np.log(cells[:, 0]) + 0.08 * np.log(cells[:, 1])
    fake = [samples.Sample({}, float(a), "synthetic", float(c.sum()), 0, tuple(map(float, c)))
            for c, a in zip(cells, acc)]
    held = fake[8:]
    p = predictor.fit(fake[:8], "cell-log-linear", holdout=held)
    np.testing.assert_allclose(p.coef, [0.4, 0.05, 0.08], atol=1e-9)
    q = p.quality
    assert q["r2_cv"] == pytest.approx(1.0) and q["kendall_cv"] == pytest.approx(1.0)
    assert q["n_holdout"] == 4 and q["r2_holdout"] == pytest.approx(1.0) and q["kendall_holdout"] == pytest.approx(1.0)
    # the held-out table changes nothing in the fit
    np.testing.assert_array_equal(predictor.fit(fake[:8], "cell-log-linear").coef, p.coef)
    # a wrong held-out value shows in the held-out figures only: 0.9 instead of the last accuracy
    bad = held[:-1] + [samples.Sample({}, 0.9, "synthetic", held[-1].nn_degree, 0, held[-1].cell_degrees)]
    q2 = predictor.fit(fake[:8], "cell-log-linear", holdout=bad).quality
    assert q2["r2_holdout"] < 0.9 and q2["r2_cv"] == pytest.approx(1.0)


def test_samples_with_different_cell_counts_are_refused():
    two = [samples.Sample({}, 0.9, "s", 2.0 * d, 0, (float(d), float(d))) for d in (1, 2, 3, 4)]
    one = [samples.Sample({}, 0.9, "s", 5.0, 0, (5.0,))]
    with pytest.raises(SpecError, match="cell"):
        predictor.fit(two, "cell-log-linear", holdout=one)
    with pytest.raises(SpecError, match="3-cell space"):      # a per-cell form needs the space's cell count
        predictor.fit(two, "cell-log-linear", cells=3)
    assert predictor.fit(two, "log-linear", cells=3).form == "log-linear"   # the sum does not


def test_cli_per_cell_predictor_on_other_cell_counts_is_one_line_exit_2(tmp_path, capsys):
    # skipnet-tiny has 2 cells; its card's sample table holds 3-cell networks
    card = tmp_path / "space.yaml"
    text = load_space("skipnet-tiny").path.read_text().replace("samples: skipnet-digits-samples.csv",
                                                              "samples: skipnet-digits-samples.csv\npredictor: cell-log-linear")
    card.write_text(text.replace("samples: skipnet-digits-samples.csv", "samples: " + str(
        load_space("skipnet-tiny").path.parent / "skipnet-digits-samples.csv")))
    assert main(["nas", str(card), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "cell-log-linear" in err and len(err.strip().splitlines()) == 1


def test_unknown_predictor_form():
    fake = [samples.Sample({}, 0.9, "s", float(d), 0, (float(d),)) for d in (1, 2, 3, 4)]
    with pytest.raises(SpecError, match="predictor"):
        predictor.fit(fake, "cubic-spline")


def _problem(tmp_path, fast=True):
    space = load_space("skipnet-tiny")
    return search.Problem(space, predictor.fit(samples.read(_table(tmp_path))), HardwareModel(space, fast=fast))


@pytest.mark.parametrize("fast", [True, False])   # inner level: exact over the priced table, or SHGO
def test_shgo_finds_the_exhaustive_optimum(tmp_path, fast):
    ex = search.exhaustive_search(_problem(tmp_path))
    sh = search.shgo_search(_problem(tmp_path, fast), n_outer=16, n_inner=4)
    assert ex.priced == 64 * 8                       # every (network, array) pair of the tiny space
    assert sh.best.objective == ex.best.objective
    assert (sh.best.net, sh.best.arr) == (ex.best.net, ex.best.arr)
    assert sh.priced < ex.priced


def test_random_search_prices_its_budget(tmp_path):
    r = search.random_search(_problem(tmp_path), budget=20, seed=1)
    assert len(r.points) == 20 and r.priced <= 20
    assert r.best.objective >= search.exhaustive_search(_problem(tmp_path)).best.objective


def test_shgo_grid_on_a_known_function():
    # minimum of (i - 3)^2 + (j - 1)^2 on a 6 x 4 grid is at (3, 1)
    idx, val = search.shgo_grid(lambda t: (t[0] - 3) ** 2 + (t[1] - 1) ** 2, [6, 4], n=8)
    assert idx == (3, 1) and val == 0


def test_budget_no_candidate_meets(tmp_path):
    card = tmp_path / "space.yaml"
    card.write_text(load_space("skipnet-tiny").path.read_text().replace("  weight: 1.0\n",
                                                                         "  weight: 1.0\nbudgets:\n  energy_pj: 1\n"))
    with pytest.raises(SpecError, match="budgets"):
        flow.run(load_space(card), _table(tmp_path), "shgo", 8, 4)


def test_exhaustive_refused_on_a_large_space(tmp_path):
    with pytest.raises(SpecError, match="too many"):
        flow.run(load_space("skipnet-digits"), _table(tmp_path), "exhaustive")


@pytest.mark.slow
def test_cli_nas_writes_the_report_and_a_runnable_winner(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["nas", "skipnet-tiny", "--samples", str(_table(tmp_path)), "--n-outer", "8", "--n-inner", "4",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Pareto front" in text and "interpretation" in text
    for name in ("candidates.csv", "pareto.csv", "report.html", "winner.yaml", "nas_accuracy_vs_energy.png"):
        assert (out / name).is_file(), name
    assert main(["run", str(out / "winner.yaml"), "--out", str(tmp_path / "run")]) == 0


@pytest.mark.parametrize("argv, message", [
    (["nas", "skipnet-tiny", "--n-outer", "0"], "--n-outer"),
    (["nas", "skipnet-tiny", "--train", "3"], "--train"),
    (["nas", "no-such-space"], "unknown search space"),
])
def test_cli_nas_bad_input_is_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("old, new, message", [
    ("depth: [1, 2]", "depth: []", "network.depth: no allowed value"),                       # empty bounds
    ("depth: [1, 2]", "depth: {min: 3, max: 1}", "contradictory bounds"),                    # min > max
    ("rows_parallel: [16, 32]", "rows_parallel: [256]", "array.rows_parallel: contradictory"),  # all > rows
    ("  weight: 1.0", "  weight: 1.0\nbudgets:\n  energy_pj: 1", "no candidate"),             # budget nobody meets
    ("samples: skipnet-digits-samples.csv", "samples: colour.csv", "unknown column 'colour'"),  # unknown column
])
def test_cli_bad_cards_and_tables_are_one_line_exit_2(tmp_path, capsys, old, new, message):
    import pandas as pd

    here = load_space("skipnet-tiny").path
    table = pd.read_csv(here.parent / "skipnet-digits-samples.csv")
    table.to_csv(tmp_path / "skipnet-digits-samples.csv", index=False)
    table.assign(colour="red").to_csv(tmp_path / "colour.csv", index=False)
    card = tmp_path / "space.yaml"
    text = here.read_text()
    assert old in text
    card.write_text(text.replace(old, new))
    assert main(["nas", str(card), "--n-outer", "4", "--n-inner", "4", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()          # nothing written
