"""``imcsim sensor``: an in-sensor ROI front end (HiRISE) priced with the IMC accelerator.

Reads a front-end study (``sensor``, ``accelerator``, a ``frontend:`` section, optional ``breakeven:``),
prints the stages, the schemes, the ratios against the full-frame baselines and the ROI fraction at
which the two-stage scheme stops paying, writes them as CSV/JSON and builds ``report.html``. The output
folder follows ``imcsim run``'s rules (:class:`imcsim.sweep.outdir.RunFolder`: locked while written,
files swapped in whole, an earlier run replaced only with ``--force``).
``imcsim sensor --card NAME`` prints a sensor card instead (every parameter with tag and source).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imcsim.cli.output import add_format_option, emit

ORDER = 35

STAGE_COLUMNS = ["scheme", "stage", "what", "count", "network", "network_resolution", "energy_sensor_uj",
                 "energy_adc_uj", "energy_link_uj", "energy_compute_uj", "energy_memory_uj", "energy_uj", "kbit",
                 "latency_us", "peak_memory_kib"]
SCHEME_COLUMNS = ["scheme", "energy_sensor_uj", "energy_adc_uj", "energy_link_uj", "energy_compute_uj",
                  "energy_memory_uj", "energy_uj", "frontend_energy_uj", "kbit", "latency_us", "peak_memory_kib"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sensor", help="in-sensor ROI front end (HiRISE) vs full-frame processing",
                       description="Price a two-stage in-sensor ROI scheme (HiRISE: analog grayscale + pooling, "
                                   "then ROIs at full resolution) and full-frame baselines: sensor, ADC, link and "
                                   "accelerator energy, data sent, latency, peak memory, ratios and the ROI "
                                   "fraction where the scheme stops paying.")
    p.add_argument("study", nargs="?", help="front-end study YAML (e.g. workloads/studies/hirise-paper.yaml)")
    p.add_argument("--card", help="print a sensor card (built-in name or path) instead of running a study")
    p.add_argument("--out", "-o", default=None, help="output folder (default: reports/<study name>)")
    p.add_argument("--no-breakeven", action="store_true", help="skip the ROI-fraction break-even sweep")
    p.add_argument("--no-report", action="store_true", help="do not build report.html")
    p.add_argument("--force", action="store_true",
                   help="replace the results of an earlier run in the output folder (kept until the new ones are complete)")
    add_format_option(p)
    p.set_defaults(func=handle)


def _scaled(rec: dict, energy_keys: list[str]) -> dict:
    out = dict(rec)
    for k in energy_keys:
        out[k.removesuffix("_pj") + "_uj"] = rec[k] / 1e6
    out["kbit"] = rec["bits"] / 1e3
    out["latency_us"] = rec["latency_ns"] / 1e3
    out["peak_memory_kib"] = rec["peak_memory_bytes"] / 1024
    return out


def handle(args: argparse.Namespace) -> int:
    from imcsim.errors import SpecError

    if args.card:
        if args.study:
            raise SpecError("<flags>", "--card", args.card, problem="give either a study file or --card")
        from imcsim.frontend.card import load_sensor

        card = load_sensor(args.card)
        emit(card.records(), args.format, title=f"{card.name}: {card.description}",
             columns=["param", "value", "unit", "tag", "source"])
        return 0
    if not args.study:
        raise SpecError("<flags>", "study", problem="missing", allowed="a front-end study YAML file, or --card NAME")

    from imcsim.frontend.breakeven import breakeven
    from imcsim.frontend.pipeline import PARTS, run_frontend, write_results
    from imcsim.frontend.spec import load_sensor_study

    study = load_sensor_study(args.study)
    result = run_frontend(study)
    be = None if args.no_breakeven else breakeven(result)
    name = study.name or Path(args.study).stem
    out = Path(args.out or Path("reports") / name)
    energy_keys = [f"energy_{p}_pj" for p in PARTS] + ["energy_pj", "frontend_energy_pj"]
    stages = [_scaled(r, energy_keys[:-1]) for r in result.stage_records()]
    schemes = [_scaled(r, energy_keys) for r in result.scheme_records()]
    if args.format != "table":
        records = [{"table": "scheme", **r} for r in result.scheme_records()]
        records += [{"table": "ratio", **r} for r in result.ratios()]
        if be is not None:
            records += [{"table": "breakeven", **r} for r in be.records()]
        emit(records, args.format)
    else:
        emit(stages, "table", title=f"{name}: stages per frame (uJ, kbit, us, KiB)", columns=STAGE_COLUMNS)
        print()
        emit(schemes, "table", title="schemes per frame", columns=SCHEME_COLUMNS)
        print()
        emit(result.ratios(), "table", title="baseline / two-stage (x > 1: the two-stage scheme is better)")
        if be is not None:
            print()
            emit([{**r, "breakeven_fraction": "pays up to the full frame" if r["breakeven_fraction"] is None
                   else r["breakeven_fraction"]} for r in be.records()], "table",
                 title="ROI fraction of the frame at which the two-stage scheme stops paying")
        print()
        for a in result.assumptions:
            print(f"assumption: {a}")
    import imcsim
    from imcsim.sweep.outdir import RunFolder, now_iso

    # Priced first, written last: bad input or a failed network leaves the folder as it was.
    with RunFolder(out, force=args.force) as folder:
        write_results(result, folder.staging, be)
        files = folder.commit({"imcsim_version": imcsim.__version__, "finished": now_iso(), "kind": "sensor",
                               "study": args.study})
        if not args.no_report:
            from imcsim.report.frontend import build_frontend_report

            files.append(build_frontend_report(out))
    if args.format == "table":
        print(f"wrote: {', '.join(str(f) for f in files)}")
    return 0
