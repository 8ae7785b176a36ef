"""``imcsim workloads``: the built-in networks, and one network layer by layer.

  imcsim workloads                        every workload card: params, MACs, layers, source
  imcsim workloads show NAME|PATH         per-layer table (name, op, shapes, params, MACs, block);
                                          --resolution/--classes/--batch/... override the card
"""

from __future__ import annotations

import argparse
from typing import Any

from imcsim.cli.output import add_format_option, emit

ORDER = 30


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("workloads", help="networks: list the workload cards, show one layer by layer",
                              description="The built-in workloads (workloads/*.yaml) with parameters and MACs.")
    add_format_option(p)
    p.set_defaults(func=_list)
    sub = p.add_subparsers(dest="workloads_command", metavar="SUBCOMMAND")
    show = sub.add_parser("show", help="per-layer table of one workload",
                          description="Per-layer table: shapes are per sample, MACs per sample.")
    show.add_argument("workload", help="card name, card .yaml, zoo model, or a SCALE-Sim .csv / ONNX file")
    show.add_argument("--resolution", type=int, help="input resolution (pixels)")
    show.add_argument("--classes", type=int, help="classifier outputs")
    show.add_argument("--batch", type=int, help="batch size (recorded; tables are per sample)")
    show.add_argument("--width", type=float, help="width multiplier (MobileNets)")
    show.add_argument("--seq-len", type=int, help="encoder tokens (T5)")
    show.add_argument("--dec-len", type=int, help="decoder tokens (T5)")
    show.add_argument("--weights-only", action="store_true", help="only conv and linear layers")
    add_format_option(show)
    show.set_defaults(func=_show)


def _list(args: argparse.Namespace) -> int:
    from imcsim.workload.cards import list_workloads, load_card, load_workload

    records = []
    for name in list_workloads():
        card, _ = load_card(name)
        g = load_workload(name)
        records.append({
            "workload": name,
            "model": card.model or card.file,
            "input": _shape(g.input_shape),
            "batch": g.meta.get("batch", 1),
            "params": g.n_params,
            "macs": g.macs,
            "weight_layers": len(g.weight_nodes()),
            "nodes": len(g),
            "source": card.source,
        })
    emit(records, args.format, title="workloads (params and MACs per sample; imcsim workloads show NAME)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from imcsim.workload.cards import load_workload

    g = load_workload(args.workload, resolution=args.resolution, classes=args.classes, batch=args.batch,
                      width=args.width, seq_len=args.seq_len, dec_len=args.dec_len)
    nodes = g.weight_nodes() if args.weights_only else list(g)
    records = [_layer(n) for n in nodes]
    title = (f"{g.meta.get('workload', g.name)}: input {_shape(g.input_shape)}, batch {g.meta.get('batch', 1)}, "
             f"{g.n_params:,} params, {g.macs:,} MACs per sample, {len(g)} nodes")
    emit(records, args.format, title=title,
         columns=["layer", "op", "kind", "in_shape", "out_shape", "params", "macs", "block"])
    return 0


def _layer(n: Any) -> dict[str, Any]:
    kind = n.attrs.get("kind")
    if n.op == "conv":
        # e.g. "3x3/s2", "dw3x3/s1" (depthwise), "g2 5x5/s1" (grouped)
        kh, kw = n.attrs["kernel"]
        groups = n.attrs["groups"]
        prefix = "dw" if n.is_depthwise else (f"g{groups} " if groups > 1 else "")
        kind = f"{prefix}{kh}x{kw}/s{n.attrs['stride'][0]}"
    return {"layer": n.name, "op": n.op, "kind": kind, "in_shape": _shape(n.in_shape),
            "out_shape": _shape(n.out_shape), "params": n.n_params, "macs": n.macs, "block": n.block}


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape) if shape else "-"
