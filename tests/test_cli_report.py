"""``imcsim report DIR``: the written files as a table; an empty folder is one error line, exit 2."""

import json

from imcsim.cli.main import main
from imcsim.report.synthetic import synthetic_results


def test_empty_folder_is_one_line_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imcsim: error: ") and str(tmp_path) in lines[0]
    assert not any(tmp_path.iterdir())


def test_report_lists_written_files(tmp_path, capsys):
    src = tmp_path / "results"
    src.mkdir()
    synthetic_results(devices=("sas-mram", "reram"), rows=(64,), cols=(64,), failed=1).to_parquet(
        src / "table.parquet")
    out_dir = tmp_path / "out"
    assert main(["report", str(src), "--out", str(out_dir), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    records = json.loads(out)
    files = {r["file"]: r for r in records}
    assert files["report.html"]["kind"] == "page"
    assert {"tables/summary.csv", "tables/summary.parquet", "plots/pareto.png", "plots/pareto.svg"} <= set(files)
    for name, r in files.items():
        assert (out_dir / name).stat().st_size == r["size_bytes"] > 0
    assert sorted(p.name for p in src.iterdir()) == ["table.parquet"]  # --out: the source is untouched
    # one array shape: no size axis, no heatmap; each skip is one note on stderr, and not in the files
    assert err.strip().splitlines() == [
        "imcsim: note: plot array_size not drawn: the array size (rows x cols) takes a single value",
        "imcsim: note: plot utilisation not drawn: a single array shape (rows x cols): nothing to map"]
    assert "plots/utilisation.png" not in files
