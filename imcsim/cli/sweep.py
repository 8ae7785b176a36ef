"""``imcsim sweep``: a Cartesian product over study fields, evaluated point by point into a result store.

    imcsim sweep [STUDY_OR_SWEEP.yaml] [--FIELD VALUES ...] [--filter EXPR] [-o DIR] [--jobs N]
                 [--scheduler ADDRESS] [--resume | --force] [--no-report] [--progress MODE] [--format F]

Any flat study field is a flag (``--device sas-mram,reram --rows 64:256*2 --workload.seq-len 128
--chip.tiles 32 --engine event``); the flags this parser does not know are read by
:func:`imcsim.sweep.spec.split_flag_args`, typed by :func:`imcsim.sweep.study.study_field_types` and
checked before anything runs. A file is a sweep YAML (``base/axes/filters``) or a study file,
with or without a ``sweep:`` section (see :mod:`imcsim.sweep.study`); flags override it field by
field. Points are evaluated by :func:`imcsim.engine.evaluate_point` (analytic engine unless the spec
sets ``engine``), results stream into ``DIR`` (docs/sweep.md), then ``report.html`` is built.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imcsim.cli.output import add_format_option, bounded_int, emit, report_progress
from imcsim.errors import SpecError
from imcsim.sweep.spec import MAX_POINTS, MAX_POINTS_LIMIT

ORDER = 25
PROGRESS = ("auto", "bar", "lines", "none")
MAX_JOBS = 256

SUMMARY_COLUMNS = ["points", "skipped", "evaluated", "failed", "cleared", "complete", "elapsed_s",
                   "points_per_s", "out"]

_EPILOG = """\
study fields (each takes one value, a list a,b,c, or a range start:stop:step / start:stop*factor):
  --workload, --method, --device, --accelerator, --engine analytic|event, --rows, --cols,
  --rows-parallel, --column-mux, --bits-per-cell, --batch, --write-policy, --flip-prob,
  --steps-per-day, --backward, ... and dotted ones: --workload.seq-len, --method.rank,
  --chip.tiles, --chip.cell-capacity-mibit, --tile.write-drivers, ...
examples:
  imcsim sweep --workload resnet18 --device sas-mram,sot-mram,reram --rows 32:256*2 --cols 32:256*2 \\
               --method inference,full,last --jobs 2 -o reports/rn18
  imcsim sweep workloads/studies/array-size-resnet18.yaml --resume
"""


class _FieldFlagParser(argparse.ArgumentParser):
    """Keeps the flags it does not know (study fields) in ``args.fields`` instead of rejecting them,
    because the top-level parser runs ``parse_args`` and would call them unrecognized."""

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        ns, extras = super().parse_known_args(args, namespace)
        ns.fields = list(extras)
        return ns, []


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="sweep study fields (devices, array sizes, methods, ...) into a resumable result store",
        usage="imcsim sweep [STUDY_OR_SWEEP.yaml] [--FIELD VALUES ...] [options]",
        description="Evaluate every combination of the given study fields (flags, a sweep YAML, or a study "
                    "file with a sweep: section), stream the results into a folder, then build report.html.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.__class__ = _FieldFlagParser
    p.add_argument("--filter", action="append", default=[], metavar="EXPR",
                   help="keep only points where EXPR holds, e.g. 'rows_parallel <= rows' (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUES",
                   help="same as --FIELD VALUES (repeatable), e.g. --set workload.seq_len=128")
    p.add_argument("--out", "-o", default=None, metavar="DIR",
                   help="output folder (default: reports/<study file stem> or reports/sweep-<hash>)")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                   help=f"local worker processes (default 1, at most {MAX_JOBS}); started only for the points "
                        "left after 2 s of evaluating here, so a short sweep runs in this process")
    p.add_argument("--max-points", type=int, default=MAX_POINTS, metavar="N",
                   help=f"refuse a plan with more combinations than N (default {MAX_POINTS:,}; "
                        f"at most {MAX_POINTS_LIMIT:,}); checked before anything is expanded")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://host:8786)")
    p.add_argument("--resume", action="store_true", help="skip the points already stored in DIR")
    p.add_argument("--retry-failed", action="store_true", help="with --resume: evaluate failed points again")
    p.add_argument("--force", action="store_true", help="delete the results stored in DIR and run every point")
    p.add_argument("--no-report", action="store_true", help="do not build tables, plots and report.html")
    p.add_argument("--progress", choices=PROGRESS, default="auto",
                   help="progress display on stderr (default auto: a bar on a terminal, lines otherwise)")
    add_format_option(p)
    p.set_defaults(func=_sweep, fields=[])


def split_positional(tokens: Sequence[str]) -> tuple[str | None, list[str]]:
    """``[file?] --FIELD VALUE ...`` in any order -> (the one bare file, the flag tokens)."""
    path: str | None = None
    flags: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("--") and tok != "--":
            flags.append(tok)
            if "=" not in tok and i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                flags.append(tokens[i + 1])
                i += 1
        elif path is None and not tok.startswith("-"):
            path = tok
        else:
            raise SpecError("<flags>", None, tok, problem="unexpected argument",
                            allowed="one study or sweep file and --FIELD VALUES pairs")
        i += 1
    return path, flags


def field_pairs(args: argparse.Namespace) -> tuple[str | None, list[tuple[str, str]]]:
    """The study file and the (field, text) pairs of the field flags, then of ``--set``."""
    from imcsim.sweep.spec import split_flag_args

    path, flags = split_positional(args.fields)
    pairs = split_flag_args(flags)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError("<flags>", "--set", item, problem="expected FIELD=VALUES", allowed="e.g. rows=64,128")
        pairs.append((key.strip().replace("-", "_"), value))
    return path, pairs


def _sweep(args: argparse.Namespace) -> int:
    from imcsim.engine import evaluate_point
    from imcsim.sweep.runner import SweepInterrupted, run_sweep, use_system_allocator
    from imcsim.sweep.study import check_plan, plan_from_file, plan_from_flags, warm_engine

    if args.resume and args.force:
        raise SpecError("<flags>", "--force", problem="cannot be combined with --resume",
                        allowed="one of --resume (keep stored points) or --force (delete them)")
    if args.retry_failed and not args.resume:
        raise SpecError("<flags>", "--retry-failed", problem="needs --resume")
    bounded_int("--max-points", args.max_points, 1, MAX_POINTS_LIMIT)
    bounded_int("--jobs", args.jobs, 1, MAX_JOBS)
    path, pairs = field_pairs(args)
    if path is not None:
        plan = plan_from_file(path, pairs, args.filter, max_points=args.max_points)
    else:
        plan = plan_from_flags(pairs, args.filter, max_points=args.max_points)
    check_plan(plan)
    use_system_allocator()
    out = Path(args.out) if args.out else Path("reports") / plan.title
    try:
        summary = run_sweep(plan.points, evaluate_point, out, jobs=args.jobs, scheduler=args.scheduler,
                            resume=args.resume, force=args.force, progress=args.progress, warmup=warm_engine,
                            retry_failed=args.retry_failed, spec=plan.spec)
    except SweepInterrupted as exc:
        emit([_record(exc.summary, out)], args.format, columns=SUMMARY_COLUMNS, title=f"imcsim sweep -> {out}")
        print(f"imcsim: {exc}", file=sys.stderr)
        return 130
    if plan.description:
        (out / "description.txt").write_text(plan.description.strip() + "\n")
    emit([_record(summary, out)], args.format, columns=SUMMARY_COLUMNS, title=f"imcsim sweep -> {out}")
    if summary.failed:
        print(f"imcsim: note: {summary.failed} point(s) failed; their errors are in the 'error' column "
              f"(tables/failed.csv in the report)", file=sys.stderr)
    if not args.no_report:
        from imcsim.report.build import build_report

        try:
            html = build_report(out, progress=report_progress())
        except SpecError as exc:  # e.g. every point failed: the store is complete, only the report is missing
            print(f"imcsim: note: report not built: {exc}", file=sys.stderr)
        else:
            if args.format == "table":
                print(f"report: {html}")
    return 0


def _record(summary: Any, out: Path) -> dict[str, Any]:
    return {"points": summary.total, "skipped": summary.skipped, "evaluated": summary.evaluated,
            "failed": summary.failed, "cleared": summary.cleared, "complete": summary.complete,
            "elapsed_s": round(summary.elapsed_s, 3), "points_per_s": round(summary.points_per_s, 2),
            "out": str(out)}
