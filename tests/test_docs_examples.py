"""The Python examples of README.md, docs/api.md and docs/sweep.md run as written (in a temporary
folder) and every point they evaluate succeeds: an example that names a field its sweep does not set, or
a method its network cannot take, fails here instead of in a reader's hands."""

import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "docs/api.md", "docs/sweep.md"]


def blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(encoding="utf-8"), re.S)


def test_every_page_has_its_examples():
    assert [len(blocks(p)) for p in PAGES] == [1, 2, 2]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_the_examples_run_as_written(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    space: dict = {}  # one page reads like a notebook: a later block uses what an earlier one made
    for i, code in enumerate(blocks(page)):
        exec(compile(code, f"{page} example {i + 1}", "exec"), space)  # noqa: S102 (our own docs)
        df = space.get("df")
        if isinstance(df, pd.DataFrame):  # a sweep: every point evaluated
            assert len(df) and (df["status"] == "ok").all(), (page, i, df["error"].dropna().unique()[:3])
            del space["df"]
    assert "imcsim" in space or "run_sweep" in space
