"""``imcsim memory``: trainable parameters, parameter and activation memory, array writes per step.

Figures follow the TinyTL/Rep-Net profiler convention (``imcsim.workload.accounting``); methods whose
papers use their own convention add their column (gradient filtering: stored x in KiB; sparse
update: the 256KB paper's analytic kB).
"""

from __future__ import annotations

import argparse

from imcsim.cli.output import add_format_option, emit

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("memory", help="training memory and writes per step of one or more methods",
                       description="Training memory (MB = 1e6 bytes), trainable parameters and IMC weight "
                                   "writes per step, by the TinyTL/Rep-Net profiler convention.")
    p.add_argument("--workload", required=True, help="zoo workload name (see `imcsim workloads`)")
    p.add_argument("--method", required=True,
                   help="method name, alias or card; several comma-separated with --compare")
    p.add_argument("--batch", type=int, default=8, help="batch size B in B x A_peak + P (default 8)")
    p.add_argument("--resolution", type=int, default=None, help="input resolution (image workloads)")
    p.add_argument("--classes", type=int, default=None, help="classifier classes")
    p.add_argument("--compare", action="store_true", help="several methods side by side in one table")
    p.add_argument("--trained-weights-in", choices=("imc", "sram"), default=None,
                   help="where re-trained weights live (sram: the Hyb-Learn split, no array writes)")
    add_format_option(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from imcsim.errors import SpecError
    from imcsim.workload import methods, zoo
    from imcsim.workload.accounting import memory_report

    names = [m.strip() for m in args.method.split(",") if m.strip()]
    if len(names) > 1 and not args.compare:
        raise SpecError("<flags>", "--method", args.method, problem="several methods need --compare; got",
                        allowed="one method, or --compare")
    if args.batch < 1:
        raise SpecError("<flags>", "--batch", args.batch, problem="bad value", allowed="an integer >= 1")
    opts = {}
    if args.resolution is not None:
        opts["resolution"] = args.resolution
    if args.classes is not None:
        opts["classes"] = args.classes
    graph = zoo.build(args.workload, **opts)
    records = []
    notes: list[str] = []
    for name in names:
        extra = {"trained_weights_in": args.trained_weights_in} if args.trained_weights_in else {}
        step = methods.apply(graph, name, **extra)
        records.append(memory_report(step, args.batch, args.workload).record())
        notes += [f"{name}: {n}" for n in step.notes if f"{name}: {n}" not in notes]
    emit(records, args.format, title=f"{args.workload}, batch {args.batch} (MB = 1e6 bytes)")
    if args.format == "table":
        for n in notes:
            print(f"note: {n}")
    return 0
