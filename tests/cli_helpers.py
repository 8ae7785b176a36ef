"""``imcsim ARGS`` run in the test process (``imcsim.cli.main.main``), for tests about what a command
prints and returns: the same exit code and stdout/stderr text as ``python -m imcsim ARGS``, without a new
interpreter importing numpy, pydantic and imcsim again (about 0.5 s of CPU each). Tests about the process
itself (signals, tracebacks with ``--debug``, a closed stdout, the installed entry point) keep a subprocess."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Ran:
    """What ``subprocess.run(..., capture_output=True, text=True)`` would give."""

    returncode: int
    stdout: str
    stderr: str


def run_imcsim(*argv: str, cwd: str | Path | None = None) -> Ran:
    from imcsim.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse's own usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(before)
    return Ran(code, out.getvalue(), err.getvalue())
