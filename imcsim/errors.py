"""Errors that reach the user as one clear line (exit code 2), never as a traceback.

Every bad input a user can give (a spec file, a CLI flag, a sweep range) is raised as a
:class:`SpecError` naming *where* (file), *what* (field), the bad *value* and what is *allowed*.
The CLI catches :class:`ImcsimError`, prints ``imcsim: error: <message>`` and exits with 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

from typing import Any

EXIT_USAGE = 2


class ImcsimError(Exception):
    """Base class of the errors the CLI turns into one line and exit code 2."""

    exit_code = EXIT_USAGE


class SpecError(ImcsimError):
    """A bad value in a spec (YAML file or flags).

    ``file`` is the path of the file (or ``"<flags>"`` for command-line options), ``field`` a dotted
    path to the offending key (``"params.write_energy_per_bit_fj.value"``), ``value`` what was given,
    ``allowed`` a short phrase saying what would be accepted.
    """

    def __init__(self, file: str | None, field: str | None, value: Any = None, allowed: str | None = None,
                 problem: str | None = None) -> None:
        self.file = file
        self.field = field
        self.value = value
        self.allowed = allowed
        self.problem = problem
        super().__init__(self.render())

    def render(self) -> str:
        where = str(self.file) if self.file else "<input>"
        if self.field:
            where += f": {self.field}"
        text = f"{where}: {self.problem or 'bad value'}"
        if self.value is not None:
            text += f" {_short(self.value)}"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        # one line, always: a key or path read from a hostile file may hold line breaks
        return text.replace("\r", "\\r").replace("\n", "\\n")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def os_error_line(exc: OSError) -> str:
    """A file-system error as one line: the path, what went wrong (read-only, full, not a folder ...)."""
    reason = exc.strerror or type(exc).__name__
    path = exc.filename
    if path is None:
        return f"cannot write the output: {reason}"
    text = str(path)
    if len(text) > 120:
        text = text[:57] + "..." + text[-60:]
    return f"{text}: cannot write or read it: {reason}"

