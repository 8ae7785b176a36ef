"""``imcsim train``: on-device INT8 training executed on the bit-serial kernels, with an fp32 reference.

The built-in continual-learning scenario: the network is pre-trained in fp32 numpy on task A (digits
0-4 of scikit-learn's bundled 8x8 digits), quantised to INT8, then trained on-device on task B (digits
5-9) with the method (``repnet`` adds Rep-Net's branches to the network), every forward, backward-error and weight-gradient GEMM on the bit-serial kernels
and every update a saturating INT8 write with stochastic rounding. An fp32 numpy training of the same
method, steps, batches and seed runs alongside. One record per logged step: the mean training loss since
the last record, the held-out accuracy on task B (``accuracy``, ``fp32_accuracy``) and on task A
(forgetting). ``--out DIR`` writes DIR/measured.json (activity per layer and phase, the adder-tree
toggles of the forward passes and of the backward error through the arrays), DIR/updates.npz
(the INT8 weights before and after every update), DIR/weights.npz (the INT8 weights the run ended
with: the engine prices reloads with them) and DIR/records.json; ``imcsim run --set
measured=DIR`` prices a step with them.
"""

from __future__ import annotations

import argparse

ORDER = 62

COLUMNS = ("step", "loss", "fp32_loss", "accuracy", "fp32_accuracy", "accuracy_task_a", "fp32_accuracy_task_a")


def register(sub: argparse._SubParsersAction) -> None:
    from imcsim.cli.output import add_format_option

    p = sub.add_parser("train", help="on-device INT8 training executed on the bit-serial kernels (fp32 alongside)",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("--workload", default="digits-cnn", help="network (default digits-cnn)")
    p.add_argument("--dataset", default="digits", help="digits (built in) or an .npz with images and labels "
                                                       "(labels 0-4 are task A, 5-9 task B)")
    p.add_argument("--method", default="last", help="last, bias, full, repnet or lora (default last)")
    p.add_argument("--method-option", action="append", default=[], metavar="KEY=VALUE",
                   help="an option of the method (repeatable; e.g. rank=8 for lora, bias=false for repnet); "
                        "lora defaults here to rank=4, alpha=8 (targets: every linear layer of a CNN)")
    p.add_argument("--steps", type=int, default=200, help="INT8 training steps on task B (default 200)")
    p.add_argument("--batch", type=int, default=32, help="images per step (default 32)")
    p.add_argument("--lr-shift", type=int, default=4, help="learning rate 2^-shift, 0..16 (default 4)")
    p.add_argument("--backward", default="transposed-array",
                   help="backward error through the array read transposed on the kernels (transposed-array, "
                        "default) or on the digital unit (digital)")
    p.add_argument("--wgrad", default="array", help="weight gradients on the kernels (array, default) or the "
                                                    "digital unit (digital)")
    p.add_argument("--error-bits", type=int, default=8, help="error and gradient width: 8, or 16 (two 8-bit passes on the kernels; default 8)")
    p.add_argument("--master-copy", default="none",
                   help="higher-precision master weights kept digitally, the INT8 copy written to the arrays: none "
                        "(default), int16 or fp32; price it with options.master_copy")
    p.add_argument("--pretrain-steps", type=int, default=300, help="fp32 pre-training steps on task A (default 300)")
    p.add_argument("--log-every", type=int, default=20, help="steps between records (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    p.add_argument("--rows-parallel", type=int, default=None, metavar="N",
                   help="adder-tree inputs the toggle counts are for (default: the acc-sas-mram preset's, 64)")
    p.add_argument("--out", default=None, metavar="DIR", help="write measured.json, updates.npz, weights.npz, records.json")
    add_format_option(p)
    p.set_defaults(func=handler)


def method_options(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` strings -> options (values parsed as YAML: 4, false, [q, v]); the method checks them."""
    from imcsim.config.loader import parse_yaml
    from imcsim.errors import SpecError

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError("<flags>", "--method-option", item, "KEY=VALUE, e.g. rank=8")
        out[key.strip()] = parse_yaml(value, f"<flags>: --method-option {key.strip()}")
    return out


def handler(args: argparse.Namespace) -> int:
    import json

    from imcsim.cli.infer import toggle_rows
    from imcsim.cli.output import emit
    from imcsim.errors import SpecError
    from imcsim.execute import train
    from imcsim.execute.data import load_dataset
    from imcsim.execute.runfolder import write_measured, write_updates, write_weights
    from imcsim.workload.cards import load_workload

    opts = train.TrainOptions(method=args.method, lr_shift=args.lr_shift, batch=args.batch, backward=args.backward,
                              wgrad=args.wgrad, error_bits=args.error_bits,
                              method_options=tuple(method_options(args.method_option).items()),
                              master_copy=args.master_copy)
    opts.check()
    for flag, value in (("--log-every", args.log_every), ("--pretrain-steps", args.pretrain_steps)):
        if value < 1:
            raise SpecError("<flags>", flag, value, "an integer >= 1")
    rows_parallel = toggle_rows(args.rows_parallel)
    graph = load_workload(args.workload)
    dataset = load_dataset(args.dataset)
    dataset.check_fits(graph.input_shape, graph.nodes[-1].out_shape[-1])
    with train.single_thread():
        run = train.continual_learning(graph, dataset, opts, steps=args.steps, seed=args.seed,
                                       log_every=args.log_every, pretrain_steps=args.pretrain_steps,
                                       toggle_rows=rows_parallel if args.out else None)
    emit(run.records, args.format, columns=COLUMNS,
         title=f"{graph.name}: INT8 {args.method} on the bit-serial kernels vs fp32, {args.steps} steps; {run.source}")
    if args.out:
        from pathlib import Path

        out = Path(args.out)
        write_measured(out, workload=args.workload, source=run.source, command="train", activity=run.activity,
                       extra={"method": args.method, "method_options": run.method_options, "steps": args.steps,
                              "batch": args.batch,
                              "options": {k: dict(v) if k == "method_options" else v
                                          for k, v in ((k, getattr(opts, k)) for k in opts.__dataclass_fields__)}},
                       toggles=run.toggles, rows_parallel=rows_parallel)
        write_updates(out, run.updates)
        write_weights(out, {n: op.w for n, op in run.qnet.ops.items() if op.kind == "array"})
        (out / "records.json").write_text(json.dumps(run.records, indent=1) + "\n")
    return 0
