"""`make lint` as part of `make test`: ruff over the package, the tests and the benchmarks.

Lint ran only by hand, so a commit could break it unseen (an unsorted import block stayed on main for a
stop). ruff is a dev dependency (setup.cfg), installed by `make test`; it is run from this interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing() -> None:
    pytest.importorskip("ruff", reason="ruff is a dev dependency (pip install -e '.[dev]')")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "imcsim", "tests", "benchmarks"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
