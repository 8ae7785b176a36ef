"""report.html and build_report: self-contained page with every plot, a sortable summary table, the
failed points, the Assumptions section; only the report's own files are written."""

import base64
import hashlib
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from imcsim.device.library import load_card
from imcsim.engine.ledger import OpRecord, Result, WriteSummary
from imcsim.errors import SpecError
from imcsim.report import build_report
from imcsim.report.build import make_report
from imcsim.report.synthetic import synthetic_results
from imcsim.sweep.spec import Point, point_id
from imcsim.sweep.store import ResultStore

FIELDS = ["device", "method", "rows", "cols"]


def _sweep_folder(out: Path, failed: int = 2) -> Path:
    """A real sweep store (ResultStore) holding the synthetic 3 x 2 x 2 x 2 table plus failed points."""
    df = synthetic_results(failed=failed)
    points, rows = [], []
    for i, r in df.iterrows():
        params = {f: (int(r[f]) if f in ("rows", "cols") else r[f]) for f in FIELDS}
        if r["status"] != "ok":
            params["cols"] = 1000 + i  # failed points are distinct design points
        points.append(Point(i, point_id(params), params))
        rows.append(r)
    store = ResultStore.open(out, points, fields=FIELDS, spec={"axes": {"device": "sas-mram,sot-mram,reram"}})
    for p, r in zip(points, rows):
        metrics = {k: v for k, v in r.items() if k not in FIELDS + ["status", "error"]} \
            if r["status"] == "ok" else {}
        store.add(p, r["status"], r["error"], metrics)
    store.close({"jobs": 1}, complete=True)
    return out


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


class _Tables(HTMLParser):
    """Collects tables by id: header texts and rows of (text, data-v) cells."""

    def __init__(self):
        super().__init__()
        self.tables, self._current, self._cell, self._in = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._current = self.tables.setdefault(a["id"], {"head": [], "rows": [], "class": a.get("class")})
        elif self._current is not None and tag == "tr":
            self._row = []
        elif self._current is not None and tag in ("td", "th"):
            self._cell, self._in = [a.get("data-v"), ""], tag

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if self._current is None:
            return
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            if self._row and self._in == "th":
                self._current["head"] = [c[1] for c in self._row]
            elif self._row:
                self._current["rows"].append(self._row)
        elif tag == "table":
            self._current = None


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory):
    folder = _sweep_folder(tmp_path_factory.mktemp("sweep"))
    (folder / "notes.txt").write_text("mine")
    before = _snapshot(folder)
    files = make_report(folder)
    return folder, before, files, files.html.read_text(encoding="utf-8")


@pytest.mark.slow
def test_page_embeds_every_plot_and_nothing_external(sweep_report):
    folder, _, files, page = sweep_report
    drawn = [p for p in files.plots if not p.skipped]
    assert len(drawn) == 6
    for p in drawn:
        m = re.search(rf'<figure id="plot-{p.name}"><img alt="[^"]+" src="data:image/png;base64,([^"]+)"', page)
        assert m, p.name
        assert base64.b64decode(m.group(1)) == p.png.read_bytes()
        assert p.caption.split(";")[0].replace("'", "&#x27;") in page
    # self-contained: no script/style/image fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script>" in page and "<style>" in page


@pytest.mark.slow
def test_the_answer_comes_first(sweep_report):
    """Latency and energy lead the page: the first table, before the study description, every other
    table and every figure; leakage's source is stated."""
    _, _, _, page = sweep_report
    parser = _Tables()
    parser.feed(page)
    assert list(parser.tables)[0] == "answer-table"
    head = parser.tables["answer-table"]["head"]
    assert head[:3] == ["point", "latency_us", "energy_uj"] and "write_energy_uj" in head
    assert "lifetime_years" in head and "tops_per_w" in head
    first = page.index('<h2 id="answer">')
    assert first < page.index('<h2 id="study">') < page.index('<h2 id="summary">') < page.index("<figure")
    assert "Energy by source" in page[first:page.index('<h2 id="study">')]


@pytest.mark.slow
def test_summary_table_is_sortable_and_complete(sweep_report):
    _, _, files, page = sweep_report
    parser = _Tables()
    parser.feed(page)
    summary = parser.tables["summary-table"]
    assert summary["class"] == "sortable"
    assert len(summary["rows"]) == 26  # 24 evaluated + 2 failed
    assert summary["head"][:4] == FIELDS and "energy_pj" in summary["head"]
    col = summary["head"].index("energy_pj")
    assert all(r[col][0] is not None for r in summary["rows"][:24])  # numbers carry data-v for sorting


@pytest.mark.slow
def test_failed_points_listed_with_errors(sweep_report):
    _, _, _, page = sweep_report
    parser = _Tables()
    parser.feed(page)
    failed = parser.tables["failed-table"]
    err = failed["head"].index("error")
    assert [r[err][1] for r in failed["rows"]] == [
        "mapping: layer conv0 needs 2 macros, accelerator has 1",
        "mapping: layer conv1 needs 3 macros, accelerator has 1"]
    assert "2 point(s) did not evaluate" in page


@pytest.mark.slow
def test_assumptions_list_the_a_tagged_card_parameters(sweep_report):
    _, _, files, page = sweep_report
    section = page[page.index('<h2 id="assumptions">'):page.index('<h2 id="files">')]
    for device in ("sas-mram", "sot-mram", "reram"):
        card = load_card(device)
        assumed = [n for n in card.param_names() if card.param(n).tag == "A"]
        assert f"<h3>{device}</h3>" in section
        block = section[section.index(f"<h3>{device}</h3>"):]
        for name in assumed:
            assert f"<td>{name}</td>" in block, (device, name)
        first = card.param(assumed[0])
        assert first.unit in block
    assert [d.device for d in files.devices] == ["sas-mram", "sot-mram", "reram"]


@pytest.mark.slow
def test_only_report_files_are_written(sweep_report):
    folder, before, files, _ = sweep_report
    after = _snapshot(folder)
    assert {k: after[k] for k in before} == before  # every earlier file untouched
    new = set(after) - set(before)
    assert new == {str(p.relative_to(folder)) for p in files.written}
    assert all(n == "report.html" or n.startswith(("tables/", "plots/")) for n in new)


@pytest.mark.slow
def test_table_sorter_sorts_numbers_in_node(sweep_report):
    node = shutil.which("node")
    if node is None:
        pytest.skip(reason="node not installed")
    _, _, _, page = sweep_report
    parser = _Tables()
    parser.feed(page)
    summary = parser.tables["summary-table"]
    col = summary["head"].index("lifetime_years")
    script = re.search(r"<script>(.*)</script>", page, re.S).group(1)
    rows = [[[c[1], c[0]] for c in r] for r in summary["rows"]]
    shim = """
    const ROWS = __ROWS__, HEAD = __HEAD__, COL = __COL__;
    function el(attrs) { const a = Object.assign({}, attrs); return {
      getAttribute: n => (n in a ? a[n] : null), setAttribute: (n, v) => { a[n] = v; },
      removeAttribute: n => { delete a[n]; }, addEventListener: function (t, f) { this.click = f; } }; }
    const heads = HEAD.map(() => el({}));
    const body = { rows: ROWS.map((r, i) => ({ id: i, cells: r.map(c => Object.assign(
      el(c[1] === null ? {} : {"data-v": c[1]}), { textContent: c[0] })) })),
      appendChild(r) { this.rows.splice(this.rows.indexOf(r), 1); this.rows.push(r); } };
    const table = { tHead: { rows: [{ cells: heads }] }, tBodies: [body] };
    globalThis.document = { querySelectorAll: () => [table] };
    __SCRIPT__
    heads[COL].click(); const up = body.rows.map(r => r.id);
    heads[COL].click(); const down = body.rows.map(r => r.id);
    console.log(JSON.stringify([up, down]));
    """
    shim = shim.replace("__ROWS__", json.dumps(rows)).replace("__HEAD__", json.dumps(summary["head"]))
    shim = shim.replace("__COL__", str(col)).replace("__SCRIPT__", script)
    res = subprocess.run([node, "-e", shim], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    up, down = json.loads(res.stdout)

    def key(i):
        v = rows[i][col][1]
        return (0, float(v)) if v not in (None, "") else (1, rows[i][col][0])

    assert up == sorted(range(len(rows)), key=key)  # numbers ascending (inf last), then the "-" cells
    assert [key(i) for i in down] == sorted((key(i) for i in up), reverse=True)


def test_run_folder_report_shows_ledger_assumptions_and_escapes(tmp_path):
    ops = [OpRecord("c:fwd", "c", "forward", "mvm", "m", 1, 4.0, {"cell_read": 2.0}, macs=4)]
    res = Result({"device": "<b>nodev</b>", "method": "inference"}, "analytic", 1.0, 4.0, {"cell_read": 2.0},
                 ops, WriteSummary(), {"cells": 10.0}, {"utilisation": 0.4},
                 assumptions=["activity density 0.5 <default>"])
    res.write(tmp_path)
    html_path = build_report(tmp_path, tmp_path / "rep")
    page = html_path.read_text()
    assert html_path == tmp_path / "rep" / "report.html"
    assert "activity density 0.5 &lt;default&gt;" in page and "<default>" not in page
    assert "&lt;b&gt;nodev&lt;/b&gt;" in page and "<b>nodev</b>" not in page
    assert "Device card not read" in page  # an unknown device is reported, not an exception
    assert (tmp_path / "rep" / "tables" / "phases.csv").is_file()
    assert (tmp_path / "rep" / "tables" / "layers.parquet").is_file()
    # one run, one array size: these plots are skipped with a note
    skipped = page[page.index("<p>Not drawn:</p>"):page.index('<h2 id="failed">')]
    assert "Array utilisation over rows x cols</b>: needs column(s) rows, cols" in skipped
    assert "Energy-latency-area trade-off with the Pareto front</b>: fewer than two evaluated points" in skipped


def test_bad_output_and_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match="holds no results"):
        build_report(tmp_path / "empty")
    assert not any((tmp_path / "empty").iterdir())  # nothing written for a failed report
    synthetic_results().to_parquet(tmp_path / "r.parquet")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SpecError, match="not a folder"):
        build_report(tmp_path, tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"


def test_the_answer_names_the_chip_of_a_device_without_its_own_preset():
    import pandas as pd

    from imcsim.report.build import _chip_note

    df = pd.DataFrame({"device": ["sas-mram", "stt-mram", "/home/me/cards/my-pcm.yaml", "reram", "stt-mram"],
                       "accelerator": ["acc-sas-mram", "acc-sas-mram", "acc-sas-mram", "acc-reram", "acc-sot-mram"]})
    # reram has acc-reram; sas-mram is on its own preset; stt-mram and the user card have none of their own
    assert _chip_note(df).endswith("my-pcm on acc-sas-mram; stt-mram on acc-sas-mram; stt-mram on acc-sot-mram.")
    assert _chip_note(df.iloc[[0, 3]]) == "" and _chip_note(df[["device"]]) == ""
