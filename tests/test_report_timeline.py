"""The Gantt chart of an event-engine run: drawn from timeline.csv, one lane per resource."""

import pytest

from imcsim.cli.main import main
from imcsim.report.timeline import plot_timeline


def test_gantt_from_a_hand_written_timeline(tmp_path):
    csv = tmp_path / "timeline.csv"
    csv.write_text("resource,op,sample,start_ns,end_ns\n"
                   "macros:a,a:fwd,0,0,10\nmacros:a,a:fwd,0,10,20\nmacros:b,b:fwd,0,12,30\nlink:0->1,a->b,0,10,12\n")
    plot = plot_timeline(csv, tmp_path / "plots")
    assert plot.skipped is None and [p.suffix for p in plot.files] == [".png", ".svg"]
    assert all(p.stat().st_size > 0 for p in plot.files)
    empty = tmp_path / "e_timeline.csv"
    empty.write_text("resource,op,sample,start_ns,end_ns\n")
    assert plot_timeline(empty, tmp_path / "plots").skipped


@pytest.mark.slow
def test_event_run_writes_its_timeline_and_the_report_draws_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--workload", "tiny-cnn", "--engine", "event", "-o", str(out), "--format", "json"]) == 0
    capsys.readouterr()
    rows = (out / "timeline.csv").read_text().splitlines()
    assert rows[0] == "resource,op,sample,start_ns,end_ns" and len(rows) > 100
    assert (out / "plots" / "timeline.png").is_file()
    assert "timeline.png" in (out / "report.html").read_text()
