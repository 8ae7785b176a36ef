"""Progress of a sweep: a tqdm bar on a terminal, plain throttled lines in logs, or nothing.

Why two styles: a bar redraws in place, which is what a person at a terminal wants, but it turns a
CI log or a batch-job file into thousands of carriage returns; there a line every few seconds
(``[n/total] rate points/s, eta ...``) says the same and stays readable.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

MODES = ("auto", "bar", "lines", "none")


class Progress(Protocol):
    def update(self, n: int = 1, failed: int = 0) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    """Progress disabled."""

    def update(self, n: int = 1, failed: int = 0) -> None:
        return None

    def close(self) -> None:
        return None


class LineProgress:
    """``[done/total] 812.4 points/s, eta 9 s, 2 failed`` at most every ``interval`` seconds, and at the end.

    ``done`` counts points already stored by an earlier run; the rate counts only this run's points.
    """

    def __init__(self, total: int, initial: int = 0, stream: TextIO | None = None, interval: float = 5.0,
                 clock=time.monotonic) -> None:
        self.total, self.done, self.evaluated, self.failed = total, initial, 0, 0
        self.stream = stream or sys.stderr
        self.interval = interval
        self._clock = clock
        self._start = self._last = clock()
        if initial:
            self._write(f"[{initial}/{total}] already stored, resuming")

    def update(self, n: int = 1, failed: int = 0) -> None:
        self.done += n
        self.evaluated += n
        self.failed += failed
        now = self._clock()
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            self._write(self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max((self._clock() if now is None else now) - self._start, 1e-9)
        rate = self.evaluated / elapsed
        left = self.total - self.done
        eta = f"eta {_duration(left / rate)}" if rate > 0 and left > 0 else f"elapsed {_duration(elapsed)}"
        text = f"[{self.done}/{self.total}] {rate:.1f} points/s, {eta}"
        return text + (f", {self.failed} failed" if self.failed else "")

    def close(self) -> None:
        return None

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class BarProgress:
    """A tqdm bar with rate and ETA; failures shown as a postfix."""

    def __init__(self, total: int, initial: int = 0, stream: TextIO | None = None) -> None:
        from tqdm import tqdm

        self.failed = 0
        self.bar = tqdm(total=total, initial=initial, unit=" points", file=stream or sys.stderr,
                        dynamic_ncols=True, smoothing=0.1, desc="sweep")

    def update(self, n: int = 1, failed: int = 0) -> None:
        if failed:
            self.failed += failed
            self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def make_progress(mode: str | bool, total: int, initial: int = 0, stream: TextIO | None = None,
                  interval: float = 5.0) -> Progress:
    """``auto``: a bar when ``stream`` (stderr) is a terminal, lines otherwise; ``none``/False: nothing."""
    if mode is True:
        mode = "auto"
    if mode is False or mode is None:
        mode = "none"
    if mode not in MODES:
        raise ValueError(f"progress must be one of {', '.join(MODES)}, got {mode!r}")
    out = stream or sys.stderr
    if mode == "auto":
        mode = "bar" if getattr(out, "isatty", lambda: False)() else "lines"
    if mode == "bar":
        return BarProgress(total, initial, out)
    if mode == "lines":
        return LineProgress(total, initial, out, interval)
    return NoProgress()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m:02d} min"
