"""``imcsim compare``: devices side by side for one workload and training methods.

    imcsim compare --device sas-mram,sot-mram,reram --workload flan-t5-large --method lora,lorafusion
                   [--set FIELD=VALUE ...] [--engine analytic|event] [--out DIR] [--format table|csv|json]

Prints, per method and device, the energy and time of one training step, one new task and one epoch,
the write share, lifetime, deploy cost and ratios to the first device (:mod:`imcsim.compare`), and
writes ``compare.csv`` and ``compare.json`` into the output folder.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from imcsim.cli.output import add_format_option, emit
from imcsim.errors import SpecError

ORDER = 27

#: the terminal table (fits 100 columns): short headers in readable units, explained under the table;
#: ``--wide`` shows WIDE_COLUMNS, and the files and --format csv/json keep every column (pJ, ns)
TABLE_COLUMNS = {
    "method": "method", "device": "device", "energy_per_step_uj": "step_uJ", "time_per_step_ms": "step_ms",
    "write_energy_share": "wr_share", "write_energy_per_task_mj": "task_wr_mJ",
    "write_time_per_task_s": "task_wr_s", "lifetime_years": "life_years", "energy_vs_first": "energy_x",
}
TABLE_LEGEND = ("step_uJ/step_ms: one training step; wr_share: part of the step's energy spent writing; "
                "task_wr_mJ/_s: writes of one new task; life_years: lifetime; energy_x: step energy / "
                "the first device's. All columns: --wide, --format csv|json, or compare.csv.")
WIDE_COLUMNS = ["method", "device", "energy_per_step_uj", "time_per_step_ms", "write_energy_per_step_uj",
                 "write_time_per_step_ms", "write_energy_share", "write_energy_per_task_mj",
                 "write_time_per_task_s", "write_energy_per_epoch_mj", "write_time_per_epoch_s", "lifetime_years",
                 "deploy_energy_uj", "deploy_time_ms", "energy_vs_first", "write_energy_vs_first",
                 "lifetime_vs_first"]
ISO_COLUMNS = ["method", "device", "weight_capacity_mbit", "cell_array_area_mm2", "energy_per_step_uj",
               "time_per_step_ms", "reload_weights_per_step", "write_energy_share", "energy_vs_first",
               "time_vs_first"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="devices side by side: reprogramming cost per step, task and epoch, lifetime",
        description="Evaluate one workload and one or more training methods on several devices and compare "
                    "energy and time per training step, per new task (options.steps_per_task steps) and per "
                    "epoch (options.dataset_size / batch steps), the share spent writing, lifetime, the "
                    "deploy cost and ratios to the first device. Example: imcsim compare --device "
                    "sas-mram,sot-mram,reram --workload flan-t5-large --method lora,lorafusion "
                    "--set chip.cell_capacity_mibit=12288", allow_abbrev=False)
    p.add_argument("--device", required=False, help="devices, comma separated; ratios are to the first")
    p.add_argument("--workload", required=False, help="one workload (card, zoo model, .onnx or .csv)")
    p.add_argument("--method", required=False, help="training methods, comma separated (e.g. lora,lorafusion)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="any flat study field, e.g. steps_per_task=500, dataset_size=50000, "
                        "workload.seq_len=128, chip.cell_capacity_mibit=12288 (repeatable)")
    p.add_argument("--run", default=None, metavar="DIR",
                   help="a training run folder (imcsim train --out DIR): per device, the write energy, write time, "
                        "hottest-cell wear and lifetime from its executed updates next to the default "
                        "assumptions (devices default to sas-mram,sot-mram,stt-mram,reram,sram)")
    p.add_argument("--engine", choices=["analytic", "event"], default="analytic", help="timing engine (default analytic)")
    p.add_argument("--iso", choices=["capacity", "area"], default=None,
                   help="size every device's chip to the first one's weight capacity or cell-array area "
                        "(default: each preset as it is)")
    p.add_argument("--out", "-o", default=None, help="output folder for compare.csv/json (default: reports/compare-<workload>)")
    p.add_argument("--wide", action="store_true", help="table: every column (per task and per epoch, deploy, "
                                                     "all ratios) instead of the ones that fit 100 columns")
    add_format_option(p)
    p.set_defaults(func=_compare)


def _list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def parse_set(items: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` items -> a flat-field dict (values read as YAML scalars: 12288 is a number)."""
    from imcsim.config.loader import parse_yaml
    from imcsim.config.study import flat_field_types

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise SpecError("<flags>", "--set", item, problem="expected FIELD=VALUE", allowed="e.g. steps_per_task=500")
        if key in ("device", "workload", "method", "engine"):
            raise SpecError("<flags>", "--set", item, problem=f"{key} has its own flag:", allowed=f"--{key}")
        if "." not in key and key not in flat_field_types():
            import difflib

            guess = difflib.get_close_matches(key, list(flat_field_types()), n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            raise SpecError("<flags>", f"--set {key}", problem=f"unknown study field{hint}",
                            allowed=", ".join(sorted(flat_field_types())) + ", workload.*, method.*, chip.*, tile.*")
        out[key] = parse_yaml(value, f"<flags>: --set {key}")
    return out


RUN_COLUMNS = ["device", "write_policy", "measured_flip_rate", "measured_write_energy_pj", "assumed_write_energy_pj",
               "write_energy_pj_assumed_over_measured", "measured_write_latency_ns", "assumed_write_latency_ns",
               "measured_max_cell_wear_per_step", "assumed_max_cell_wear_per_step", "measured_lifetime_years",
               "assumed_lifetime_years"]


def _compare_run(args: argparse.Namespace) -> int:
    from imcsim.compare import RUN_DEVICES, compare_run, write_files

    if args.workload or args.method:
        raise SpecError("<flags>", "--run", args.run, problem="the run folder fixes the workload and method:",
                        allowed="--run DIR without --workload/--method")
    records = compare_run(args.run, _list(args.device) or list(RUN_DEVICES), parse_set(args.set), engine=args.engine)
    out = Path(args.out) if args.out else Path(args.run) / "compare"
    files = write_files(records, out)
    emit(records, args.format, columns=RUN_COLUMNS if args.format == "table" else None,
         title=f"imcsim compare: training run {args.run} ({records[0]['workload']}, {records[0]['method']}): "
               "write cost per step from the executed updates vs the default assumptions")
    if args.format == "table":
        print("written: " + ", ".join(str(f) for f in files))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from imcsim.compare import compare, write_files

    if args.run:
        return _compare_run(args)

    for flag in ("device", "workload", "method"):
        if not getattr(args, flag):
            raise SpecError("<flags>", f"--{flag}", None, problem="missing:",
                            allowed="--device a,b,c --workload NAME --method m1,m2")
    if "," in args.workload:
        raise SpecError("<flags>", "--workload", args.workload, problem="one workload per comparison; got",
                        allowed="a single workload name")
    overrides = parse_set(args.set)
    records = compare(_list(args.device), args.workload, _list(args.method), overrides, engine=args.engine,
                      iso=args.iso)
    out = Path(args.out) if args.out else Path("reports") / f"compare-{Path(args.workload).stem}"
    files = write_files(records, out)
    if args.format == "table":
        shown = [_readable(r) for r in records]
        title = (f"imcsim compare: {args.workload}; ratios to {records[0]['device']} "
                 + (f"(iso-{args.iso} chips) " if args.iso else "")
                 + f"(per task: {records[0]['steps_per_task']} steps, per epoch: {records[0]['steps_per_epoch']} steps)")
        if args.wide or args.iso:
            emit(shown, "table", columns=ISO_COLUMNS if args.iso else WIDE_COLUMNS, title=title)
        else:
            short = [{TABLE_COLUMNS[k]: r.get(k) for k in TABLE_COLUMNS} for r in shown]
            emit(short, "table", columns=list(TABLE_COLUMNS.values()), title=title)
            print(textwrap.fill(TABLE_LEGEND, width=100))
        print("written: " + ", ".join(str(f) for f in files))
    else:
        emit(records, args.format)
    return 0


def _readable(r: dict[str, Any]) -> dict[str, Any]:
    """Table units: uJ/mJ and ms/s instead of pJ and ns."""
    out = dict(r)
    out.update({
        "energy_per_step_uj": r["energy_per_step_pj"] / 1e6, "time_per_step_ms": r["time_per_step_ns"] / 1e6,
        "write_energy_per_step_uj": r["write_energy_per_step_pj"] / 1e6,
        "write_time_per_step_ms": r["write_time_per_step_ns"] / 1e6,
        "write_energy_per_task_mj": r["write_energy_per_task_pj"] / 1e9,
        "write_time_per_task_s": r["write_time_per_task_ns"] / 1e9,
        "write_energy_per_epoch_mj": r["write_energy_per_epoch_pj"] / 1e9,
        "write_time_per_epoch_s": r["write_time_per_epoch_ns"] / 1e9,
        "deploy_energy_uj": r["deploy_energy_pj"] / 1e6, "deploy_time_ms": r["deploy_time_ns"] / 1e6,
    })
    return out
