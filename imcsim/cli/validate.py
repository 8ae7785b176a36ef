"""``imcsim validate``: run the validation suite -- each case a configuration and a published figure
with its citation -- and print case, source, published, simulated, error %, pass band and verdict.

Bands: silicon macros within a factor of 2, accounting claims within the rounding of the claim.
Verdicts: pass, fail, known deviation (outside the band, cause stated in the case), fitted (used for
calibration, not evidence), informative. Exit status 1 when a case fails. ``--calibrate`` re-runs the
calibration fit(s) and prints the fitted value and the residual. Cases: workloads/validation/*.yaml;
method and bands: docs/validation.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imcsim.cli.output import add_format_option, emit

ORDER = 90


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="compare imcsim with published silicon and papers (table, CSV, HTML)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", action="append", metavar="NAME", help="run only this case (repeatable)")
    p.add_argument("--list", action="store_true", help="list the cases (name, role, kind, source) and exit")
    p.add_argument("--out", metavar="DIR", type=Path, default=None,
                   help="also write DIR/validation.csv and DIR/validation.html (an HTML fragment)")
    p.add_argument("--calibrate", action="store_true",
                   help="re-run the calibration fit(s): fitted value, residual, and the card's recorded value")
    add_format_option(p)
    p.set_defaults(func=_run)


def _short_source(source: str) -> str:
    """The first citation of a source line (the terminal table stays readable; CSV/HTML keep it all)."""
    return source.split(";")[0].strip()


def _run(args: argparse.Namespace) -> int:
    from imcsim.validate import load_cases, run_suite, select, write_outputs
    from imcsim.validate.calibration import calibration_report
    from imcsim.validate.suite import hardware_summary_text

    cases = load_cases()
    chosen = select(cases, args.case)
    if args.list:
        emit([{"case": c.name, "role": c.role, "kind": c.kind, "metric": c.metric,
               "published": c.published.value, "unit": c.published.unit, "source": c.source} for c in chosen],
             args.format)
        return 0
    if args.calibrate:
        by_name = {c.name: c for c in cases}
        targets = [c for c in chosen if c.calibrates is not None]
        if not targets:
            from imcsim.errors import SpecError

            raise SpecError("<flags>", "--case", ",".join(args.case or []),
                            ", ".join(c.name for c in cases if c.calibrates is not None),
                            problem="no calibration case among")
        rows = [row for c in targets for row in calibration_report(c, by_name)]
        emit(rows, args.format, title="calibration (fitted value solves simulated = published; residual re-measured)")
        return 0
    results = run_suite(chosen)
    if args.format == "table":
        recs = [{**r.record(), "source": _short_source(r.case.source)} for r in results]
        cols = ["case", "source", "published", "unit", "simulated", "error_pct", "band", "verdict"]
        emit(recs, "table", columns=cols, title="imcsim validation (bands and causes: docs/validation.md)")
        counts = {}
        for r in results:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        print("\n" + ", ".join(f"{n} {v}" for v, n in counts.items()))
        print(hardware_summary_text(results))
        for r in results:
            if r.verdict == "known deviation":
                print(f"known deviation {r.case.name}: {' '.join(r.case.known_deviation.split())}")
    else:
        emit([r.record(full=True) for r in results], args.format)
    if args.out is not None:
        for path in write_outputs(results, args.out):
            if args.format == "table":
                print(f"wrote {path}")
    return 1 if any(r.verdict == "fail" for r in results) else 0
