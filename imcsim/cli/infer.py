"""``imcsim infer``: whole-network INT8 inference of a dataset on the bit-serial kernels.

The network is quantised post-training (per-channel INT8 weights, uint8 activations with zero
points, batch norms folded, fixed-point requantisation) and every conv and linear layer runs on the
bit-serial kernels. The table gives per layer the activity the kernels measured (input-bit and
AND-product densities) next to the defaults the engine otherwise assumes (0.5 / 0.25), and the
accuracy on the held-out images. ``--out DIR`` writes DIR/measured.json, which a study's
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
                   help="a workload card or zoo network (default digits-cnn); weights are seeded random")
    p.add_argument("--dataset", default="digits", help="digits (scikit-learn's bundled 8x8 digits) or an .npz "
                                                       "file with images and labels")
    p.add_argument("--images", type=int, default=None, help="held-out images to run (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the split (default 0)")
    p.add_argument("--calibration", default="minmax", help="activation ranges: minmax or percentile")
    p.add_argument("--check", action="store_true", help="also run the numpy integer reference; exit 1 on a mismatch")
    p.add_argument("--out", default=None, metavar="DIR", help="write DIR/measured.json for options.measured")
    add_format_option(p)
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    import sys

    from imcsim.cli.output import emit
    from imcsim.errors import SpecError
    from imcsim.execute import qnet as Q
    from imcsim.execute.data import load_dataset
    from imcsim.execute.runfolder import write_measured
    from imcsim.execute.session import build_network, fit_images, measure_inference
    from imcsim.workload.cards import load_workload

    if args.calibration not in Q.CALIBRATIONS:
        raise SpecError("<flags>", "--calibration", args.calibration, ", ".join(Q.CALIBRATIONS))
    if args.images is not None and args.images < 1:
        raise SpecError("<flags>", "--images", args.images, "an integer >= 1")
    graph = load_workload(args.workload)
    train, test = load_dataset(args.dataset).split(0.3, seed=args.seed)
    net = build_network(graph, train, seed=args.seed, calibration=args.calibration)
    images = fit_images(test.images[:args.images], graph.input_shape)
    labels = test.labels[:args.images]
    m = measure_inference(net.qnet, images, check=args.check)
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
                       extra={"accuracy": accuracy, "images": len(images)})
    if m.mismatched:
        print(f"imcsim infer: the kernels differ from the integer reference at {', '.join(m.mismatched)}",
              file=sys.stderr)
        return 1
    return 0
