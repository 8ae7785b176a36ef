"""``imcsim infer``: whole-network INT8 inference of a dataset on the bit-serial kernels.

The network is quantised post-training (per-channel INT8 weights, uint8 activations with zero
points, batch norms folded, fixed-point requantisation) and every conv and linear layer runs on the
bit-serial kernels. The table gives per layer the activity the kernels measured (input-bit and
AND-product densities) next to the defaults the engine otherwise assumes (0.5 / 0.25), and the
accuracy on the held-out images. ``--out DIR`` writes DIR/measured.json (with the adder-tree toggle
counts of every layer, for the macro's ``toggle`` activity model) and DIR/weights.npz (the quantised
INT8 weights, which price reloads), which a study's
``options.measured: DIR`` (or ``imcsim run --set measured=DIR``) feeds into the engine's pricing.
"""

from __future__ import annotations

import argparse

ORDER = 61

COLUMNS = ("layer", "op", "macs", "input_bit_density", "and_density", "default_input_bit_density",
           "default_and_density")


def register(sub: argparse._SubParsersAction) -> None:
    from imcsim.cli.output import add_format_option

    p = sub.add_parser("infer", help="whole-network INT8 inference of a dataset on the bit-serial kernels",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("--workload", default="digits-cnn",
                   help="a workload card or zoo network (seeded random weights), or an .onnx file (its "
                        "initializers are the weights); default digits-cnn")
    p.add_argument("--dataset", default="digits", help="digits (scikit-learn's bundled 8x8 digits) or an .npz "
                                                       "file with images and labels")
    p.add_argument("--images", type=int, default=None, help="held-out images to run (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the split (default 0)")
    p.add_argument("--calibration", default="minmax", help="activation ranges: minmax or percentile")
    p.add_argument("--check", action="store_true", help="also run the numpy integer reference; exit 1 on a mismatch")
    p.add_argument("--rows-parallel", type=int, default=None, metavar="N",
                   help="adder-tree inputs the toggle counts are for (default: the acc-sas-mram preset's, 64); "
                        "the engine uses them when its macro has the same tree")
    p.add_argument("--out", default=None, metavar="DIR", help="write DIR/measured.json and weights.npz for options.measured")
    add_format_option(p)
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    import sys

    from imcsim.cli.output import emit
    from imcsim.errors import SpecError
    from imcsim.execute import qnet as Q
    from imcsim.execute.data import load_dataset
    from imcsim.execute.runfolder import write_measured, write_weights
    from imcsim.execute.session import build_network, fit_images, measure_inference
    from imcsim.workload.cards import load_workload

    if args.calibration not in Q.CALIBRATIONS:
        raise SpecError("<flags>", "--calibration", args.calibration, ", ".join(Q.CALIBRATIONS))
    if args.images is not None and args.images < 1:
        raise SpecError("<flags>", "--images", args.images, "an integer >= 1")
    rows_parallel = toggle_rows(args.rows_parallel)
    graph = load_workload(args.workload)
    dataset = load_dataset(args.dataset)
    dataset.check_fits(graph.input_shape, graph.nodes[-1].out_shape[-1])
    train, test = dataset.split(0.3, seed=args.seed)
    onnx = args.workload if str(args.workload).lower().endswith(".onnx") else None
    net = build_network(graph, train, seed=args.seed, calibration=args.calibration, onnx=onnx)
    images = fit_images(test.images[:args.images], graph.input_shape)
    labels = test.labels[:args.images]
    m = measure_inference(net.qnet, images, check=args.check, toggle_rows=rows_parallel if args.out else None)
    records = []
    for node in graph.weight_nodes():
        act = m.activity[node.name]
        records.append({"layer": node.name, "op": node.op, "macs": node.macs * len(images),
                        "input_bit_density": round(act.mean_input_density, 4),
                        "and_density": round(act.mean_and_density, 4),
                        "default_input_bit_density": 0.5, "default_and_density": 0.25})
    accuracy = float((m.output.argmax(axis=1) == labels).mean())
    emit(records, args.format, columns=COLUMNS,
         title=f"{graph.name} INT8 on the bit-serial kernels: {len(images)} held-out {test.name} images, "
               f"accuracy {accuracy:.3f}; weights: {net.source}")
    if args.out:
        write_measured(args.out, workload=args.workload, source=f"{net.source}; {len(images)} {test.name} images",
                       command="infer", activity={(k, "forward"): a for k, a in m.activity.items()},
                       extra={"accuracy": accuracy, "images": len(images)},
                       toggles={(k, "forward"): t for k, t in m.toggles.items()}, rows_parallel=rows_parallel)
        write_weights(args.out, {n: op.w for n, op in net.qnet.ops.items() if op.kind == "array"})
    if m.mismatched:
        print(f"imcsim infer: the kernels differ from the integer reference at {', '.join(m.mismatched)}",
              file=sys.stderr)
        return 1
    return 0


def toggle_rows(value: int | None) -> int:
    """The adder-tree size toggles are counted for: the flag, or the default preset's tree."""
    from imcsim.config.accelerator import load_accelerator
    from imcsim.errors import SpecError

    if value is None:
        return int(load_accelerator("acc-sas-mram").macro.rows_parallel)
    if not 1 <= value <= 4096:
        raise SpecError("<flags>", "--rows-parallel", value, "an integer from 1 to 4096 (inputs of one adder tree)")
    return value
