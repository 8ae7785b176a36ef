"""``imcsim verify``: run a network's conv/linear layers bit-serially and compare with the reference.

Each layer gets its own seeded INT data (see :mod:`imcsim.execute.functional` for the signedness
rule); the table shows per layer the GEMM shape, MACs, the maximum absolute error against the numpy
integer reference (0 when bit-exact), the input-bit and AND densities, and both times. Exit code 1
if any layer differs.
"""

from __future__ import annotations

import argparse

ORDER = 60

COLUMNS = ("layer", "op", "groups", "m", "k", "n", "batch", "input", "macs", "max_abs_error",
           "input_bit_density", "and_density", "kernel_ms", "reference_ms")


def register(sub: argparse._SubParsersAction) -> None:
    from imcsim.cli.output import add_format_option

    p = sub.add_parser("verify", help="bit-exact functional run of a network's layers against the integer reference",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("--workload", required=True,
                   help="a workload card, zoo network, .onnx or SCALE-Sim .csv (see `imcsim workloads`)")
    p.add_argument("--layer", action="append", metavar="NAME",
                   help="only this conv/linear layer (repeatable); default: all of them")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated data (default 0)")
    p.add_argument("--batch", type=int, default=1, help="samples per layer (default 1)")
    p.add_argument("--resolution", type=int, default=None, help="input resolution of image networks")
    p.add_argument("--in-bits", type=int, default=8, help="input bit width, 1..8 (default 8)")
    p.add_argument("--w-bits", type=int, default=8, help="weight bit width, 1..8 (default 8)")
    add_format_option(p)
    p.set_defaults(func=handler)


def _graph(name: str, resolution: int | None):
    from imcsim.workload.cards import load_workload

    # the card loader validates the options (a resolution a network cannot take is a one-line error)
    return load_workload(name, resolution=resolution)


MAX_BATCH = 1024
MAX_RESOLUTION = 2048


def handler(args: argparse.Namespace) -> int:
    import sys

    from imcsim.circuit.bitserial import kernels_compiled
    from imcsim.cli.output import bounded_int, emit
    from imcsim.errors import SpecError
    from imcsim.execute import functional

    for field, bits in (("in-bits", args.in_bits), ("w-bits", args.w_bits)):
        if not 1 <= bits <= 8:
            raise SpecError("<flags>", field, bits, "1 to 8")
    # the kernels hold every sample's activations: bounded so a typo cannot exhaust memory
    bounded_int("--batch", args.batch, 1, MAX_BATCH)
    bounded_int("--resolution", args.resolution, 1, MAX_RESOLUTION)
    bounded_int("--seed", args.seed, 0, 2**32 - 1)
    graph = _graph(args.workload, args.resolution)
    known = {n.name for n in graph.nodes} if hasattr(graph, "nodes") else set()
    names_ok = not args.layer or not known or all(name in known for name in args.layer)
    if names_ok and not kernels_compiled():  # (a bad --layer is reported first, as one line)
        print("imcsim verify: compiling the bit-serial kernels (first run only; 30 s to a few minutes)...",
              file=sys.stderr, flush=True)
    runs = functional.run_graph(graph, batch=args.batch, seed=args.seed, layers=args.layer,
                                in_bits=args.in_bits, w_bits=args.w_bits, check=True)
    records = [r.record() for r in runs]
    if args.format == "table" and len(runs) > 1:
        total_macs = sum(r.macs for r in runs)
        records.append({"layer": "total", "macs": total_macs,
                        "max_abs_error": max(r.max_abs_error for r in runs),
                        "kernel_ms": round(sum(r.kernel_ms for r in runs), 3),
                        "reference_ms": round(sum(r.reference_ms for r in runs), 3)})
    bad = [r.name for r in runs if not r.matches]
    emit(records, args.format, columns=COLUMNS,
         title=f"{graph.name}: {len(runs)} layers, batch {args.batch}, seed {args.seed}, "
               f"INT{args.in_bits} x INT{args.w_bits}")
    if args.format == "table":
        print(verdict(len(runs), bad))
    if bad:
        print(f"imcsim verify: {len(bad)} layer(s) differ from the reference: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


def verdict(n_layers: int, bad: list[str]) -> str:
    """The last line of the table: how many layers matched the integer reference bit for bit."""
    if not bad:
        return f"verdict: {n_layers}/{n_layers} layers bit-exact"
    return f"verdict: {n_layers - len(bad)}/{n_layers} layers bit-exact, {len(bad)} differ"
