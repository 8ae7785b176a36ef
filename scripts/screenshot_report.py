#!/usr/bin/env python3
"""Render a report.html headless at a laptop screen size and save what the first screen shows as PNG.

Why: the report must show its answer (latency, energy) without scrolling. The test suite checks the
order of the HTML (tests/test_report_html.py); this script checks what a browser actually draws, and
needs a Chromium-family browser (Debian: ``apt-get install -y chromium``), which the suite does not.

    .venv/bin/python scripts/screenshot_report.py [reports/default/report.html] [--out first_screen.png]
                                                  [--size 1400x900]

Prints the PNG's path; look at it. Exit 2 when the page or a browser is missing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def browser() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def screenshot(page: Path, out: Path, width: int, height: int) -> Path:
    """Draw ``page`` in a ``width`` x ``height`` headless window into ``out`` (PNG)."""
    exe = browser()
    if exe is None:
        raise FileNotFoundError("no Chromium-family browser on PATH (" + ", ".join(BROWSERS) + ")")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:   # a fresh profile: no first-run dialogs, no state
        cmd = [exe, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={out.resolve()}",
               page.resolve().as_uri()]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", nargs="?", default="reports/default/report.html", help="report.html to draw")
    ap.add_argument("--out", default=None, help="PNG to write (default: first_screen.png next to the page)")
    ap.add_argument("--size", default="1400x900", help="window WIDTHxHEIGHT in CSS pixels (default 1400x900)")
    args = ap.parse_args(argv)
    page = Path(args.page)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"screenshot_report: --size: bad value {args.size!r}; allowed: WIDTHxHEIGHT, e.g. 1400x900",
              file=sys.stderr)
        return 2
    if not page.is_file():
        print(f"screenshot_report: {page}: file does not exist (make run writes reports/default/report.html)",
              file=sys.stderr)
        return 2
    try:
        out = screenshot(page, Path(args.out) if args.out else page.with_name("first_screen.png"), width, height)
    except FileNotFoundError as exc:
        print(f"screenshot_report: {exc}; Debian: apt-get install -y chromium", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
