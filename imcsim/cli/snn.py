"""``imcsim snn``: spiking networks with input-aware dynamic timesteps (DT-SNN, SEENN) on the IMC macro.

- ``imcsim snn price``: a network's SNN form priced per timestep (1-bit input planes) against the
  static T-step SNN and the INT8 CNN on the same accelerator, for a given exit distribution
  (``--avg-timesteps`` or ``--histogram``) and spike rates (``--spike-rate`` or ``--rates FILE.csv``).
- ``imcsim snn digits``: the measured scenario: an ANN trained on the digits, converted to an SNN, run
  bit-exactly on the kernels; accuracy, average timesteps and EDP against the exit threshold.
- ``imcsim snn study FILE.yaml``: either of them from a study file (its keys are the flags).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from imcsim.cli.output import add_format_option, emit

ORDER = 75

_SHOWN = ("mode", "rule", "threshold", "timesteps_avg", "accuracy", "energy_pj", "latency_ns", "edp_pj_ns",
          "edp_vs_static", "exit_share", "exit_latency_share")


def _floats(text: str) -> list[float]:
    return [float(v) for v in str(text).split(",") if v.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snn", help="spiking networks with dynamic timesteps (DT-SNN, SEENN) on the IMC macro",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ss = p.add_subparsers(dest="snn_command", metavar="SUBCOMMAND")
    _price_parser(ss)
    _digits_parser(ss)
    st = ss.add_parser("study", help="run `snn price` or `snn digits` from a YAML study file")
    st.add_argument("file", help="YAML with kind: snn-study, command: price|digits, options: {flag: value}")
    st.add_argument("-o", "--out", default=None, help="write snn.csv, plots and report.html to this folder")
    add_format_option(st)
    st.set_defaults(func=_study)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timesteps", type=int, default=4, help="maximum timesteps T (default 4)")
    p.add_argument("--accelerator", default="acc-sas-mram", help="accelerator preset (default acc-sas-mram)")
    p.add_argument("--device", default=None, help="device card of the macro (default: the preset's)")
    p.add_argument("-o", "--out", default=None, help="write snn.csv, plots and report.html to this folder")
    add_format_option(p)


def _price_parser(ss: argparse._SubParsersAction) -> None:
    p = ss.add_parser("price", help="price a network's SNN form: static T vs dynamic timesteps vs INT8 CNN")
    p.add_argument("--workload", default="vgg16-cifar", help="card, zoo name or file (default vgg16-cifar)")
    p.add_argument("--neuron", choices=("if", "lif"), default="lif", help="neuron kind (default lif)")
    p.add_argument("--membrane-bits", type=int, default=16, help="membrane precision in bits (default 16, A)")
    p.add_argument("--spike-rate", type=float, default=None, help="spike rate of every neuron layer (default 0.15, A)")
    p.add_argument("--rates", default=None, help="CSV of spike rates: layer,timestep,rate (timestep 1..T or "
                   "empty for all)")
    p.add_argument("--exit", choices=("none", "entropy", "confidence", "histogram"), default="entropy",
                   help="exit unit priced: entropy (DT-SNN), confidence (SEENN-I), histogram (given policy: "
                        "no exit unit, SEENN-II), none (default entropy)")
    p.add_argument("--avg-timesteps", type=float, default=None, help="average exit timestep (a two-point "
                   "distribution on its neighbouring timesteps)")
    p.add_argument("--histogram", type=_floats, default=None, help="fractions exiting at t = 1..T, comma-separated")
    p.add_argument("--layers", action="store_true", help="print the per-layer, per-timestep table")
    p.add_argument("--timeline", type=int, default=None, metavar="SAMPLES",
                   help="also run SAMPLES samples through the layer pipeline on the SimPy event engine (static "
                        "and dynamic): makespan, throughput, latency, energy per sample with the leakage over the "
                        "makespan, the bottleneck resource and the stall cycles")
    _common(p)
    p.set_defaults(func=_price)


def _digits_parser(ss: argparse._SubParsersAction) -> None:
    p = ss.add_parser("digits", help="measured: ANN on the digits -> SNN on the kernels; exits vs threshold")
    p.add_argument("--rule", choices=("entropy", "confidence"), default="entropy", help="exit rule (default entropy)")
    p.add_argument("--thresholds", type=_floats, default=[0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
                   help="exit thresholds in [0, 1), comma-separated (default 0.5,0.6,0.7,0.8,0.9,0.95)")
    p.add_argument("--temperature", type=float, default=10.0, help="softmax temperature of the exit unit on "
                   "the converted logits (default 10, A)")
    p.add_argument("--hidden", default="64,32", help="hidden widths of the MLP (default 64,32)")
    p.add_argument("--epochs", type=int, default=60, help="ANN training epochs (default 60)")
    p.add_argument("--seed", type=int, default=0, help="split, initialisation and shuffling seed (default 0)")
    p.add_argument("--samples", type=int, default=None, help="test images used (default: all 540)")
    p.add_argument("--kernel", choices=("bitserial", "reference"), default="bitserial",
                   help="bit-serial kernels (default) or the numpy integer reference")
    _common(p)
    p.set_defaults(func=_digits)


# ---------------------------------------------------------------------------------------------- price
def _read_rates(path: str, timesteps: int) -> dict[str, list[float]]:
    import pandas as pd

    from imcsim.errors import SpecError

    p = Path(path)
    if not p.is_file():
        raise SpecError(path, None, problem="file does not exist")
    df = pd.read_csv(p)
    if not {"layer", "rate"} <= set(df.columns):
        raise SpecError(path, "columns", list(df.columns), "layer, rate and optionally timestep")
    rates: dict[str, list[float]] = {}
    for i, row in df.iterrows():
        r = float(row["rate"])
        if not 0.0 <= r <= 1.0:
            raise SpecError(path, f"row {i + 2}: rate", r, "a fraction in [0, 1]")
        t = row.get("timestep")
        lst = rates.setdefault(str(row["layer"]), [float("nan")] * timesteps)
        if t is None or pd.isna(t):
            lst[:] = [r] * timesteps
        else:
            if int(t) != t or not 1 <= int(t) <= timesteps:
                raise SpecError(path, f"row {i + 2}: timestep", t, f"an integer 1..{timesteps}")
            lst[int(t) - 1] = r
    for layer, lst in rates.items():
        if any(v != v for v in lst):
            raise SpecError(path, f"layer {layer}", lst, f"a rate for every timestep 1..{timesteps}",
                            problem="missing timesteps:")
    return rates


def _price(args: argparse.Namespace) -> int:
    from imcsim.errors import SpecError
    from imcsim.snn.cost import activity_from_rates, cnn_cost, load_hardware, snn_cost
    from imcsim.snn.exits import check_histogram, two_point_histogram
    from imcsim.snn.network import snn_form
    from imcsim.snn.results import basis_sentence, compare
    from imcsim.snn.spec import load_snn_spec
    from imcsim.workload.cards import load_workload

    exit_data: dict[str, Any] = {"rule": args.exit}
    if args.exit in ("entropy", "confidence"):
        exit_data["threshold"] = 0.5  # the unit's cost does not depend on the threshold; the distribution is given
    if args.exit == "histogram":
        if args.histogram is None:
            raise SpecError("<flags>", "--histogram", None, f"{args.timesteps} fractions summing to 1",
                            problem="--exit histogram needs the distribution:")
        exit_data["histogram"] = args.histogram
    spec = load_snn_spec({"timesteps": args.timesteps, "neuron": {"kind": args.neuron,
                          "membrane_bits": args.membrane_bits}, "exit": exit_data,
                          **({"spike_rate": args.spike_rate} if args.spike_rate is not None else {})})
    if args.histogram is not None and args.avg_timesteps is not None:
        raise SpecError("<flags>", "--avg-timesteps", args.avg_timesteps, "either --avg-timesteps or --histogram",
                        problem="both given:")
    hist = None
    if args.histogram is not None:
        hist = check_histogram(args.histogram, spec.timesteps, field="--histogram")
    elif args.avg_timesteps is not None:
        hist = two_point_histogram(args.avg_timesteps, spec.timesteps)
    net = snn_form(load_workload(args.workload))
    hw = load_hardware(args.accelerator, args.device)
    rates = _read_rates(args.rates, spec.timesteps) if args.rates else None
    if rates:
        unknown = sorted(set(rates) - set(net.neurons))
        if unknown:
            raise SpecError(args.rates, "layer", unknown[0], "a neuron (ReLU) layer: " + ", ".join(list(net.neurons)[:6]))
    act = activity_from_rates(net, spec.timesteps, rates, spec.spike_rate)
    sc = snn_cost(hw, net, spec.neuron, act, spec.timesteps, spec.exit)
    evaluated = spec.exit.rule in ("entropy", "confidence")
    label = {"entropy": "snn-dtsnn-entropy", "confidence": "snn-seenn-i-confidence",
             "histogram": "snn-given-histogram", "none": "snn-dynamic"}[spec.exit.rule]
    rows = compare(sc, cnn_cost(hw, net), hist, evaluated=evaluated, dynamic_label=label, activity=act.source,
                   exits="given" if args.histogram is not None else "assumed")
    for r in rows:
        r["rule"] = spec.exit.rule if r["mode"] == label else "none"
        r["threshold"] = None
    notes = [basis_sentence(rows), *_notes(hw, spec, act.source, sc)]
    if args.out:
        from imcsim.report.snn import write_report

        write_report(rows, args.out, f"SNN {net.graph.name} on {hw.accel.name}", notes)
    if args.layers:
        emit(list(sc.layers), args.format, title=f"{net.graph.name}: per layer and timestep")
        if args.format == "table":
            print()
    timeline = _timeline(args, sc, net, spec, hist, evaluated) if args.timeline is not None else []
    if args.format != "table":  # one list of records: the results, then the event-engine rows (table: timeline)
        emit(rows + timeline, args.format)
        return 0
    emit(rows, args.format, columns=[c for c in _SHOWN if c != "accuracy"],
         title=f"{net.graph.name}, T = {spec.timesteps}, {hw.accel.name} ({hw.macro.device.name}); "
               f"activity: {act.source}")
    for n in notes:
        print(f"  - {n}")
    if timeline:
        print()
        emit([{k: v for k, v in r.items() if k != "table"} for r in timeline], "table",
             title=f"event engine (SimPy): {args.timeline} samples, layer pipeline across samples; up to "
                   f"{timeline[-1]['in_flight']} in flight (the membranes of that many samples fit the tile buffers)")
    return 0


def _timeline(args: argparse.Namespace, sc: Any, net: Any, spec: Any, hist: list[float] | None,
              evaluated: bool) -> list[dict[str, Any]]:
    from imcsim.snn.timeline import exits_from_histogram, max_in_flight, simulate

    k = max_in_flight(sc, net.total_neurons, spec.neuron.membrane_bits)
    static = [0.0] * (spec.timesteps - 1) + [1.0]
    recs = []
    for mode, h, ev in (("snn-static", static, False), ("snn-dynamic", hist, evaluated)):
        if h is None:
            continue
        for flight in sorted({1, k}):
            tl = simulate(sc, exits_from_histogram(h, args.timeline), flight, ev)
            recs.append({"table": "timeline", "mode": mode, **tl.record()})
    return recs


def _notes(hw: Any, spec: Any, activity: str, sc: Any, neuron: Any = None) -> list[str]:
    neuron = neuron or spec.neuron
    return [
        f"accelerator {hw.accel.name}, device {hw.macro.device.name}: macro, buffer, NoC and digital-unit prices "
        "from the preset (tags in `imcsim devices show` and the preset's sources)",
        f"spike activity: {activity}" + (f" (rate {spec.spike_rate} where not given, A)" if "default" in activity
                                         or "table" in activity else ""),
        f"neurons: {neuron.kind.upper()} ({neuron.reset} reset), {neuron.ops_per_update} vector ops per update, "
        f"membranes {neuron.membrane_bits} bit in the tile buffer (A); every neuron updated every timestep (A)",
        "direct encoding: the first layer runs once per sample at the macro's input precision [SEENN-CODE]",
        "layers run one after another and timesteps one after another (A): latency linear in t",
        "EDP = mean energy x mean latency over the exit distribution (samples one at a time)",
        "the INT8 CNN: same graph, same macro, placement and conventions, 8-bit activations, activity 0.5 / 0.25 (A)",
        f"leakage by chip.power_gating = {hw.power_gating} (engine/leakage.py sources); layers' macros woken once "
        "per timestep when gated (A)",
        sc.placed.note(f"spikes and spike counts sent per transfer as the shorter of their map and address events "
                       f"(snn/encoding.py: 1 flag bit + min(n x w, events x (ceil(log2 n) + value bits)) [BOAHEN-AER], "
                       f"events {'measured per sample' if activity == 'functional run' else 'counted from the spike rates (A)'}), "
                       f"currents {neuron.membrane_bits} bit as maps",
                       sum(sc.noc_sent_bits()) / max(1, sc.timesteps)),
    ]


# ---------------------------------------------------------------------------------------------- digits
def _digits(args: argparse.Namespace) -> int:
    from imcsim.errors import SpecError
    from imcsim.snn.cost import cnn_cost, load_hardware, snn_cost
    from imcsim.snn.digits import IMAGE_BITS, run_digits
    from imcsim.snn.exits import static
    from imcsim.snn.results import basis_sentence
    from imcsim.snn.spec import load_snn_spec
    from imcsim.snn.sweep import threshold_sweep

    spec = load_snn_spec({"timesteps": args.timesteps, "exit": {"rule": args.rule, "threshold": 0.5}})
    for th in args.thresholds:
        if not 0.0 <= th < 1.0:
            raise SpecError("<flags>", "--thresholds", th, "numbers in [0, 1)")
    if not args.temperature > 0:
        raise SpecError("<flags>", "--temperature", args.temperature, "a positive number")
    try:
        hidden = tuple(int(v) for v in args.hidden.split(","))
    except ValueError:
        hidden = ()
    if not hidden or min(hidden) < 1:
        raise SpecError("<flags>", "--hidden", args.hidden, "positive integers, comma-separated (e.g. 64,32)")
    if args.samples is not None and args.samples < 1:
        raise SpecError("<flags>", "--samples", args.samples, "an integer >= 1")
    if args.epochs < 1:
        raise SpecError("<flags>", "--epochs", args.epochs, "an integer >= 1")
    d = run_digits(spec.timesteps, hidden, args.seed, args.epochs, args.kernel, args.samples)
    hw = load_hardware(args.accelerator, args.device)
    conv = d.converted
    table = d.run.activity_table()
    sc = snn_cost(hw, conv.net, conv.neuron, table, spec.timesteps, spec.exit, image_bits=IMAGE_BITS)
    logits = d.logits / args.temperature
    rows = threshold_sweep(logits, d.labels, args.rule, args.thresholds, sc, cnn_cost(hw, conv.net),
                           activity=table.source, cnn_accuracy=d.ann_accuracy)
    notes = [basis_sentence(rows), *_notes(hw, spec, table.source, sc, conv.neuron)] + [
        f"digits: ANN {'-'.join(map(str, (64, *hidden, 10)))} float accuracy {d.ann_accuracy:.4f} "
        f"(the int8-cnn row shows it); converted SNN (IF, soft reset, half-threshold start) static "
        f"T={spec.timesteps} accuracy {static(logits).accuracy(d.labels):.4f} on {len(d.labels)} test images, "
        "measured on the bit-serial kernels",
        f"exit unit sees z_t x {conv.logit_scale:.4g} / {args.temperature:g} (conversion scale / temperature, A)",
        "spike rates per layer and timestep (measured): " + "; ".join(
            f"{k} " + " ".join(f"{v:.3f}" for v in vals) for k, vals in d.run.spike_rates().items()),
    ]
    if args.out:
        from imcsim.report.snn import write_report

        write_report(rows, args.out, f"SNN on the digits scenario ({args.rule} exit) on {hw.accel.name}", notes)
    emit(rows, args.format, columns=None if args.format != "table" else list(_SHOWN),
         title=f"digits SNN, T = {spec.timesteps}, {args.rule} exit, {hw.accel.name}; activity: {table.source}")
    if args.format == "table":
        for n in notes:
            print(f"  - {n}")
    return 0


# ---------------------------------------------------------------------------------------------- study
def _study(args: argparse.Namespace) -> int:
    from imcsim.cli.main import build_parser
    from imcsim.config.loader import load_yaml
    from imcsim.errors import SpecError

    data = load_yaml(args.file)
    if data.get("kind") != "snn-study":
        raise SpecError(args.file, "kind", data.get("kind"), "snn-study")
    command = data.get("command")
    if command not in ("price", "digits"):
        raise SpecError(args.file, "command", command, "price, digits")
    unknown = sorted(set(data) - {"kind", "command", "description", "options"})
    if unknown:
        raise SpecError(args.file, unknown[0], data[unknown[0]], "kind, command, description, options",
                        problem="unknown key")
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise SpecError(args.file, "options", options, "a mapping of flag names to values")
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices["snn"]._subparsers._group_actions[0].choices[command]
    known = {a.dest: a for a in sub._actions if a.option_strings}
    argv = ["snn", command]
    for key, value in options.items():
        dest = str(key).replace("-", "_")
        if dest not in known or dest in ("help", "format", "out"):
            raise SpecError(args.file, f"options.{key}", value, ", ".join(sorted(k for k in known if k != "help")),
                            problem="unknown option")
        action = known[dest]
        if isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(action.option_strings[-1])
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        argv += [action.option_strings[-1], str(value)]
    if args.format != "table":
        argv += ["--format", args.format]
    if args.out:
        argv += ["--out", args.out]
    ns = parser.parse_args(argv)
    return int(ns.func(ns) or 0)
