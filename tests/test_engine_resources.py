"""What the event engine reports per resource (busy time, utilisation, longest queue), stalls by cause and
the bottleneck: in the Result, its ledger files and report.html."""

from __future__ import annotations

import json

import pytest

from imcsim.cli.main import main
from imcsim.engine.events import simulate_plan
from imcsim.engine.ledger import Result, WriteSummary
from imcsim.engine.plan import Plan, Resource, Task


def _contended_pair() -> Plan:
    # two independent ops, 2 rows of 3 cycles each, on one contended digital unit. Grants go to the smallest
    # key (task, row): a0 0-3, a1 3-6 (a's next row outranks b's first), b0 6-9, b1 9-12.
    res = [Resource("digital", 1, "digital", contended=True)]
    tasks = [Task("a", "a", "forward", 0, 2, 1, ((0, 3),)), Task("b", "b", "forward", 0, 2, 1, ((0, 3),))]
    return Plan(tasks, [], res, [])


def test_busy_utilisation_queue_and_stalls_by_hand():
    tl = simulate_plan(_contended_pair())
    assert tl.cycles == 12 and tl.busy == {"digital": 12}
    # both first rows ask at 0 (2 waiting), and at 3 a's second row and b's first (2 again)
    assert tl.longest_queue == {"digital": 2}
    # b's first row waits 0 -> 6 for the unit; nothing else waits
    assert tl.stalls["compute"] == 6 and sum(tl.stalls.values()) == 6
    r = Result({}, "event", 2.0, tl.cycles, {"leakage": 1.0}, [], WriteSummary(), {}, {}, timeline=tl,
               stall_cycles=tl.stalls, bottleneck="b")
    [rec] = r.resource_records()
    assert rec == {"resource": "digital", "kind": "digital", "units": 1, "busy_cycles": 12, "busy_ns": 24.0,
                   "utilisation": 1.0, "longest_queue": 2}
    s = r.summary()
    assert s["busiest_resource"] == "digital" and s["busiest_utilisation"] == 1.0
    assert s["stall_cycles_compute"] == 6 and s["bottleneck_op"] == "b"


def test_utilisation_counts_every_unit():
    # a resource of 2 units busy 12 cycles over a 12-cycle run is half used
    tl = simulate_plan(_contended_pair())
    tl.capacity = {"digital": 2}
    r = Result({}, "event", 1.0, tl.cycles, {}, [], WriteSummary(), {}, {}, timeline=tl)
    assert r.resource_records()[0]["utilisation"] == pytest.approx(0.5)


def test_analytic_result_has_no_resource_table():
    r = Result({}, "analytic", 1.0, 10.0, {}, [], WriteSummary(), {}, {})
    assert r.resource_records() == [] and r.summary()["busiest_resource"] == ""


def test_run_folder_and_report_show_resources_stalls_and_bottleneck(tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["run", "--workload", "tiny-cnn", "--engine", "event", "--out", str(out)]) == 0
    capsys.readouterr()
    ledger = json.loads((out / "ledger.json").read_text())
    assert ledger["bottleneck"] and set(ledger["stall_cycles"]) >= {"input", "buffer", "compute", "noc"}
    lines = (out / "resources.csv").read_text().splitlines()
    assert lines[0] == "resource,kind,units,busy_cycles,busy_ns,utilisation,longest_queue" and len(lines) > 3
    assert ledger["resources"][0]["utilisation"] >= ledger["resources"][-1]["utilisation"] > 0
    page = (out / "report.html").read_text()
    assert 'id="engine"' in page and 'id="stalls-table"' in page and "Resources of " in page
    assert ledger["bottleneck"] in page and (out / "tables" / "stalls.csv").exists()
    # the analytic engine times no resources: no such section
    out2 = tmp_path / "an"
    assert main(["run", "--workload", "tiny-cnn", "--out", str(out2)]) == 0
    assert 'id="engine"' not in (out2 / "report.html").read_text() and not (out2 / "resources.csv").exists()
