"""``imcsim sensitivity``: sweep one assumption (a device-card parameter or a macro field) over a range
and show how much the macro's headline results move -- a table on the terminal, and sensitivity.csv,
sensitivity.png and sensitivity.svg in --out.

Example: ``imcsim sensitivity --device sas-mram --param read_energy_per_bit_fj --range 3:30``.
``--study`` is a macro configuration YAML (``kind: macro``, the fields of ``imcsim macro``: device, rows,
cols, rows_parallel, sense_amps, in_bits, w_bits, node_nm, clock_mhz, input_density, and_density,
device_overrides) or the name of a macro case of ``imcsim validate --list``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imcsim.cli.output import add_format_option, bounded_int, emit

ORDER = 91
MAX_POINTS = 10_000  # one point costs a macro evaluation; more than this is a typo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sensitivity", help="sweep one assumption and plot how much TOPS/W etc. move",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", default=None,
                   help="macro configuration YAML (kind: macro) or a macro validation case (default: the "
                        "acc-sas-mram preset macro, 128x128, 64-row tree, 28 nm, 500 MHz)")
    p.add_argument("--device", default=None, help="device card name or path (replaces the study's device)")
    p.add_argument("--param", required=True, help="device-card parameter or macro field to sweep")
    p.add_argument("--range", required=True, dest="range_", metavar="A:B", help="sweep from A to B, e.g. 3:30")
    p.add_argument("--points", type=int, default=10, help=f"points in the range (default 10, at most {MAX_POINTS})")
    p.add_argument("--metric", default="tops_per_w", help="headline result plotted (default tops_per_w; the "
                   "CSV has tops_per_w, tops_per_w_int8, energy_fj_per_mac, tops, tops_per_mm2, area_mm2)")
    p.add_argument("--out", type=Path, default=Path("reports") / "sensitivity",
                   help="folder for sensitivity.csv/.png/.svg (default reports/sensitivity)")
    add_format_option(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from imcsim.validate import sensitivity as sens

    bounded_int("--points", args.points, 2, MAX_POINTS)
    values = sens.parse_range(args.range_, args.points)
    spec, label = sens.load_study(args.study, args.device)
    records, summary, paths = sens.run(spec, label, args.param, values, args.metric, args.out)
    if args.format != "table":
        emit(records, args.format)
        return 0
    emit(records, "table", title=f"{label} ({spec.device}): sweep of {args.param}")
    base = summary["study_value"]
    print(f"\n{args.metric}: {summary['min']:.4g} .. {summary['max']:.4g} over {args.param} "
          f"{values[0]:g}..{values[-1]:g} (x{summary['max_over_min']:.3g}); "
          f"swing {summary['swing_pct']:.1f} % of the value at the study's {args.param} = {base:g}")
    for p in paths:
        print(f"wrote {p}")
    return 0
