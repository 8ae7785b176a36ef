"""report.html of a `make run`-like folder leads with the answer: nothing but the title and the section
links come before the Answer table, its first columns after the point name are latency and energy,
and the point names hold only what the runs differ in (no engine outputs such as stall cycles), so
latency and energy sit in the first screen. What a browser draws at 1400x900 is checked by
scripts/screenshot_report.py (docs/reports.md); this test needs no browser."""

import re
from html.parser import HTMLParser

import pytest

from imcsim.cli.main import main

pytestmark = pytest.mark.slow  # two event-engine runs and their report (about 10 s idle, 35 s loaded)

#: a point name longer than this pushes latency and energy towards the right edge of a 1400 px window
MAX_POINT_CHARS = 60

STUDY = """\
description: two runs like the default study, small enough for a test
accelerator: acc-sas-mram
engine: event
runs:
  - name: tiny-inference
    workload: tiny-cnn
    method: inference
  - name: tiny-last
    workload: tiny-cnn
    method: last
    options: {batch_size: 8}
"""


class _Text(HTMLParser):
    """The answer table's header and first-column cells."""

    def __init__(self):
        super().__init__()
        self.head, self.points, self._in_answer, self._cell, self._row = [], [], False, None, []

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == "answer-table":
            self._in_answer = True
        elif self._in_answer and tag in ("th", "td"):
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if not self._in_answer:
            return
        if tag == "th":
            self.head.append(self._cell)
            self._cell = None
        elif tag == "td":
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row:
            self.points.append(self._row[0])
            self._row = []
        elif tag == "table":
            self._in_answer = False


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("first_screen")
    study = tmp / "two.yaml"
    study.write_text(STUDY)
    assert main(["run", str(study), "--out", str(tmp / "out")]) == 0
    return (tmp / "out" / "report.html").read_text(encoding="utf-8")


def test_nothing_but_title_and_links_before_the_answer(page):
    body = page[page.index("<body>"):page.index('<h2 id="answer">')]
    tags = set(re.findall(r"<(\w+)", body))
    assert tags <= {"body", "h1", "p", "nav", "a"}, tags        # no table, figure or list above the answer
    assert page.index('<table class="sortable" id="answer-table"') < page.index("<table", page.index("</table>"))


def test_latency_and_energy_lead_the_answer_table(page):
    parser = _Text()
    parser.feed(page)
    assert parser.head[:3] == ["point", "latency_us", "energy_uj"]
    assert len(parser.points) == 2
    for name in parser.points:
        assert len(name) <= MAX_POINT_CHARS, name
        assert "stall" not in name and ":fwd" not in name and ":write" not in name, name
