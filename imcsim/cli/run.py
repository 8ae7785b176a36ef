"""``imcsim run``: evaluate one study (flags or a YAML study file) and write its results.

Writes, per run, ``summary.csv``, ``layers.csv`` and ``ledger.json`` into the output folder (prefixed
with the run name when the study has several runs) and ``run.json`` last. The folder is locked while
written, files are staged and renamed into place, and a folder holding an earlier run or a sweep is
refused unless ``--force`` (:class:`imcsim.sweep.outdir.RunFolder`). It prints a summary table,
a line saying which figures execution measured and which were assumed (the measured activity and flip
rates next to the defaults they replace), a line for a run that streams layers it cannot hold saying
what the reloads cost, and builds ``report.html`` unless ``--no-report``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from imcsim.cli.output import add_format_option, emit, report_progress
from imcsim.errors import SpecError

ORDER = 20
DEFAULT_STUDY = "studies/default.yaml"

#: flag -> flat study field (see imcsim.config.study.study_from_params)
FLAGS: dict[str, tuple[str, type, str]] = {
    "device": ("device", str, "device card name or path (default: the preset's)"),
    "accelerator": ("accelerator", str, "accelerator preset (devices/acc-*.yaml) or path"),
    "workload": ("workload", str, "workload card, zoo model, .onnx or SCALE-Sim .csv"),
    "method": ("method", str, "training method (inference, repnet, lora, lorafusion, ...)"),
    "rows": ("rows", int, "macro rows"),
    "cols": ("cols", int, "macro columns"),
    "rows_parallel": ("rows_parallel", int, "rows per adder tree"),
    "column_mux": ("column_mux", int, "columns sharing a sense amplifier"),
    "bits_per_cell": ("bits_per_cell", int, "bits per cell (multi-level cells)"),
    "batch": ("batch", int, "samples per step (default: the workload card's)"),
    "write_policy": ("write_policy", str, "all | diff"),
    "backward": ("backward", str, "transposed-array | digital | transposed-copy"),
    "wgrad": ("wgrad", str, "array | digital (where weight gradients run)"),
    "steps_per_day": ("steps_per_day", float, "training steps per day (lifetime)"),
}

#: the terminal table shows readable units; CSV and JSON keep the ledger's (ns, pJ)
SUMMARY_COLUMNS = ["run", "device", "workload", "method", "batch", "latency_us", "energy_uj", "write_energy_uj",
                   "write_energy_share", "weights_written", "reload_weights", "lifetime_years", "area_mm2",
                   "map_fits"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="evaluate one study (flags or a YAML study file)",
                       description="Evaluate a study: a YAML file (imcsim run study.yaml), flags, or both "
                                   "(flags override the file). Example: imcsim run --device sas-mram "
                                   "--workload resnet18 --method repnet --rows 128 --cols 128")
    p.add_argument("study", nargs="?", help="study YAML file (may hold several runs)")
    p.add_argument("--default", action="store_true", help=f"run the built-in default study (workloads/{DEFAULT_STUDY})")
    for flag, (_, typ, helptext) in FLAGS.items():
        p.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=typ, help=helptext)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="any flat study field, e.g. workload.resolution=160, chip.tiles=32 (repeatable)")
    p.add_argument("--engine", choices=["analytic", "event"], help="timing engine (default: the study's, analytic)")
    p.add_argument("--out", "-o", default=None, help="output folder (default: reports/<study or run name>)")
    p.add_argument("--force", action="store_true",
                   help="replace the results of an earlier run or sweep in the output folder (refused otherwise)")
    p.add_argument("--trace", help="write the event-engine timeline: FILE.json (Chrome trace / Perfetto) or FILE.csv")
    p.add_argument("--no-report", action="store_true", help="do not build report.html")
    add_format_option(p)
    p.set_defaults(func=_run)


def _parse_set(items: list[str]) -> dict[str, Any]:
    from imcsim.config.loader import parse_yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError("<flags>", "--set", item, problem="expected FIELD=VALUE", allowed="e.g. chip.tiles=32")
        out[key.strip()] = parse_yaml(value, f"<flags>: --set {key.strip()}")
    return out


def _studies(args: argparse.Namespace) -> tuple[str, str, list[tuple[str, Any]]]:
    from imcsim.config.study import load_study_file, study_from_params
    from imcsim.engine.context import check_accelerator
    from imcsim.paths import workloads_dir

    flags = {field: getattr(args, flag) for flag, (field, _, _) in FLAGS.items() if getattr(args, flag) is not None}
    flags.update(_parse_set(args.set))
    if args.engine:
        flags["engine"] = args.engine
    path = args.study
    if args.default:
        if path:
            raise SpecError("<flags>", "--default", path, problem="give either a study file or --default")
        path = str(workloads_dir() / DEFAULT_STUDY)
    if path:
        sf = load_study_file(path)
        if sf.sweep is not None:
            raise SpecError(path, "sweep", "...", problem="this study sweeps; run it with",
                            allowed=f"imcsim sweep {path}")
        runs = []
        source = f"{path} + <flags>" if flags else path
        for name, study in sf.runs:
            params = {**study.flat(), **flags} if flags else None
            runs.append((name, study_from_params(params, source) if params else study))
        for _, study in runs:
            check_accelerator(study, source)
        return Path(path).stem, sf.description, runs
    if "workload" not in flags:
        raise SpecError("<flags>", "--workload", None, problem="missing: give a study file, --default or",
                        allowed="--workload NAME (and optionally --device, --method, --rows ...)")
    study = study_from_params(flags, "<flags>")
    check_accelerator(study, "<flags>")
    return "", "", [("", study)]


def _run(args: argparse.Namespace) -> int:
    import imcsim
    from imcsim.engine.context import fallback_note
    from imcsim.engine.evaluation import evaluate
    from imcsim.engine.trace import write_trace
    from imcsim.report.basis import basis_sentence
    from imcsim.report.leakage import leakage_sentence
    from imcsim.report.reloads import reload_sentence
    from imcsim.sweep.outdir import RunFolder, now_iso

    title, description, runs = _studies(args)
    source = "<flags>" if not (args.study or args.default) else (
        f"{args.study or 'the default study'} + <flags>" if _flags_given(args) else (args.study or "the default study"))
    out = Path(args.out or Path("reports") / (title or _auto_name(runs[0][1])))
    if args.trace and any((args.engine or s.engine) != "event" for _, s in runs):
        raise SpecError("<flags>", "--trace", args.trace, problem="a trace needs the event engine:",
                        allowed="add --engine event")
    rows = []
    lines = []
    with RunFolder(out, force=args.force) as folder:
        for name, study in runs:
            engine = args.engine or study.engine
            try:
                # the event engine always keeps its timeline: timeline.csv, drawn as a Gantt chart in report.html
                result = evaluate(study, engine=engine, record_trace=bool(args.trace) or engine == "event")
            except SpecError as exc:
                raise _blame_study(exc, study, source) from None
            prefix = f"{name}_" if len(runs) > 1 else ""
            result.write(folder.staging, prefix=prefix)
            if result.timeline is not None:
                write_trace(result.timeline, folder.staging / f"{prefix}timeline.csv", result.cycle_ns)
            if args.trace and result.timeline is not None:
                trace = Path(args.trace)
                if len(runs) > 1:
                    trace = trace.with_name(f"{name}_{trace.name}")
                write_trace(result.timeline, trace, result.cycle_ns)
            summary = result.summary()
            rows.append({"run": name or "-", **{k: result.study.get(k) for k in ("device", "workload", "method")},
                         "batch": result.mapping.get("batch"), **summary,
                         "latency_us": summary["latency_ns"] / 1e3, "energy_uj": summary["energy_pj"] / 1e6,
                         "write_energy_uj": summary["write_energy_pj"] / 1e6})
            for line in (fallback_note(study), basis_sentence(summary), reload_sentence(rows[-1]),
                         leakage_sentence(summary)):
                if line:
                    lines.append(f"{name}: {line}" if name else line)
        if description:
            (folder.staging / "description.txt").write_text(description + "\n")
        folder.commit({"imcsim_version": imcsim.__version__, "finished": now_iso(),
                       "runs": [name or "-" for name, _ in runs], "engine": args.engine,
                       "study": args.study or ("--default" if args.default else "<flags>")})
        emit(rows, args.format, columns=SUMMARY_COLUMNS if args.format == "table" else None,
             title=f"imcsim run -> {out}")
        if args.format == "table":
            for line in lines:
                print(line)
        if not args.no_report:
            from imcsim.report.build import build_report

            html = build_report(out, progress=report_progress())
            if args.format == "table":
                print(f"report: {html}")
    return 0


def _flags_given(args: argparse.Namespace) -> bool:
    return bool(args.set) or any(getattr(args, flag) is not None for flag in FLAGS)


def _blame_study(exc: SpecError, study: Any, source: str) -> SpecError:
    """The engine reports a workload or method option as a flag; when the study file set it, say so."""
    if exc.file != "<flags>" or source == "<flags>":
        return exc
    key = str(exc.field or "").lstrip("-").replace("-", "_")
    for part, options in (("workload", study.workload.options), ("method", study.method.options)):
        if key in options:
            return SpecError(source, f"{part}.options.{key}", exc.value, allowed=exc.allowed, problem=exc.problem)
    return exc


def _auto_name(study: Any) -> str:
    dev = study.device or "preset"
    return f"{Path(str(dev)).stem}-{Path(study.workload.name).stem}-{study.method.name}"
