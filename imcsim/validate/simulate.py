"""The simulated value of a validation case, computed from imcsim's own models.

Three kinds:

- ``macro``: one bit-serial macro (:mod:`imcsim.circuit.macro`) on the dense full-array workload; the
  metric is a key of :func:`~imcsim.circuit.macro.macro_summary` (``tops_per_w_int8``, ...).
- ``macro_ratio``: the metric of ``macro`` divided by that of ``baseline`` (two modelled macros).
- ``accounting``: a claim that follows from the workload accounting (:mod:`imcsim.workload`); the
  function is named by ``accounting.claim`` (:data:`CLAIMS`).
- ``frontend``: a ratio of the in-sensor ROI front end (:mod:`imcsim.frontend.claims`), named by
  ``frontend.claim``, computed on the study ``frontend.study``.

Each returns ``(value, details)``; ``details`` are the intermediate numbers (what a reader needs to
redo the arithmetic), shown in the CSV and the HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from imcsim.errors import SpecError
from imcsim.validate.cases import Case, MacroSpec

Details = dict[str, Any]


# ---------------------------------------------------------------------------------------------- macros
def build_macro(spec: MacroSpec, extra_overrides: dict[str, Any] | None = None) -> Any:
    """A :class:`~imcsim.circuit.macro.MacroConfig` from a spec (device card + overrides)."""
    from imcsim.circuit.macro import MacroConfig
    from imcsim.device import load_device

    overrides = {**spec.device_overrides, **(extra_overrides or {})}
    device = load_device(spec.device, overrides=overrides or None)
    return MacroConfig(device=device, rows=spec.rows, cols=spec.cols, rows_parallel=spec.rows_parallel,
                       sense_amps=spec.cols if spec.sense_amps is None else spec.sense_amps,
                       in_bits=spec.in_bits, w_bits=spec.w_bits, bits_per_cell=spec.bits_per_cell,
                       node_nm=spec.node_nm, clock_mhz=spec.clock_mhz, organisation=spec.organisation,
                       input_bits_per_cycle=spec.input_bits_per_cycle, activity_model=spec.activity_model,
                       pipeline=spec.pipeline, column_select=spec.column_select)


def macro_record(spec: MacroSpec, extra_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`~imcsim.circuit.macro.macro_summary` of the spec's macro."""
    from imcsim.circuit.macro import macro_summary

    return macro_summary(build_macro(spec, extra_overrides), input_density=spec.input_density,
                         and_density=spec.and_density)


def macro_metric(spec: MacroSpec, metric: str, file: str = "<case>", extra_overrides: dict[str, Any] | None = None
                 ) -> tuple[float, dict[str, Any]]:
    rec = macro_record(spec, extra_overrides)
    if metric not in rec or isinstance(rec[metric], str):
        numeric = sorted(k for k, v in rec.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
        raise SpecError(file, "metric", metric, ", ".join(numeric), problem="unknown macro metric")
    return float(rec[metric]), rec


def _macro_details(rec: dict[str, Any], prefix: str = "") -> Details:
    """Throughput, energy per MAC by component and the area shares: what a cause text points at."""
    from imcsim.circuit.macro import AREA_COMPONENTS, COMPONENTS

    macs = rec["step_macs"]
    d: Details = {"tops": rec["tops"], "energy_fj_per_mac": rec["energy_fj_per_mac"]}
    d.update({f"{c}_fj_per_mac": rec[f"{c}_pj"] / macs * 1e3 for c in COMPONENTS})
    d["area_mm2"] = rec["area_mm2"]
    d.update({f"{c}_area_pct": 100.0 * rec[f"{c}_um2"] / rec["area_um2"] for c in AREA_COMPONENTS})
    return {f"{prefix}{k}": v for k, v in d.items()}


# ---------------------------------------------------------------------------------------------- accounting
def _graph(args: dict[str, Any]) -> Any:
    from imcsim.workload.cards import load_workload

    return load_workload(args["workload"])


def trainable_params_k(args: dict[str, Any]) -> tuple[float, Details]:
    """Trainable parameters of ``method`` on ``workload``, in thousands (the claim's unit)."""
    from imcsim.workload import methods

    step = methods.apply(_graph(args), args["method"], **args.get("options", {}))
    return step.trainable_params / 1e3, {"trainable_params": step.trainable_params}


def trainable_ratio_pct(args: dict[str, Any]) -> tuple[float, Details]:
    """Trainable parameters of ``method`` as a percentage of those of ``baseline_method``."""
    from imcsim.workload import methods

    g = _graph(args)
    a = methods.apply(g, args["method"], **args.get("options", {})).trainable_params
    b = methods.apply(g, args["baseline_method"], **args.get("baseline_options", {})).trainable_params
    return 100.0 * a / b, {"trainable_params": a, "baseline_trainable_params": b}


def _gradient_filter_pair(args: dict[str, Any]) -> tuple[Any, Any]:
    from imcsim.workload import methods

    g = _graph(args)
    layers = int(args["layers"])
    vanilla = methods.apply(g, "gradient-filter", patch=1, layers=layers)
    filtered = methods.apply(g, "gradient-filter", patch=int(args["patch"]), layers=layers)
    return vanilla, filtered


def gradient_filter_memory_saving_pct(args: dict[str, Any]) -> tuple[float, Details]:
    """1 - stored x~ / stored x of the same last ``layers`` convs (the paper's convention: conv input
    only, fp32, per sample), in %."""
    from imcsim.workload.accounting import KIB, gradient_filter_memory_bytes

    vanilla, filtered = _gradient_filter_pair(args)
    mv, mf = gradient_filter_memory_bytes(vanilla), gradient_filter_memory_bytes(filtered)
    return 100.0 * (1.0 - mf / mv), {"vanilla_kib": mv / KIB, "filtered_kib": mf / KIB}


def _backward_macs(step: Any) -> int:
    by_phase = step.macs_by_phase()
    return int(by_phase.get("backward_error", 0) + by_phase.get("weight_gradient", 0))


def gradient_filter_backward_speedup(args: dict[str, Any]) -> tuple[float, Details]:
    """Backward MACs (error propagation + weight gradients) of vanilla BP over those of gradient
    filtering, same layers: imcsim's compute convention (the paper's FLOPs convention is unverified)."""
    vanilla, filtered = _gradient_filter_pair(args)
    bv, bf = _backward_macs(vanilla), _backward_macs(filtered)
    return bv / bf, {"vanilla_backward_macs": bv, "filtered_backward_macs": bf}


def mobiletl_irb_memory_reduction_pct(args: dict[str, Any]) -> tuple[float, Details]:
    """1 - (MobileTL's stored bytes in the top ``blocks`` IRBs) / (vanilla fine-tuning of the same
    blocks, "FT-BLKs": every parameter of those blocks trained, stored per the profiler convention of
    docs/methods.md, [TINYTL]), in %. Only tensors stored by nodes inside the blocks count (the head
    above them is the same for both)."""
    from imcsim.workload import methods
    from imcsim.workload.accounting import profiler_saved
    from imcsim.workload.methods.tinytl import irb_blocks

    g = _graph(args)
    blocks = int(args["blocks"])
    top = irb_blocks(g)[-blocks:]
    in_top = {n for b in top for n in b.nodes if n in g}
    step = methods.apply(g, "mobiletl", blocks=blocks)
    mobiletl = sum(t.nbytes for t in step.stored if t.node in in_top)
    vanilla = sum(t.nbytes for n in in_top for t in profiler_saved(g[n], set(g[n].params), True, True))
    return 100.0 * (1.0 - mobiletl / vanilla), {"ft_blks_bytes": vanilla, "mobiletl_bytes": mobiletl,
                                                 "blocks": [b.name for b in top]}


def snn_edp_reduction_pct(args: dict[str, Any]) -> tuple[float, Details]:
    """1 - EDP(dynamic timesteps) / EDP(static T) of a network's SNN form on an accelerator preset, in %.

    The exit distribution is the two-point one with the published average timesteps (energy and latency
    are linear in t, so the product of the mean energy and the mean latency depends on the average only);
    the exit unit (``rule``) is priced after every timestep but the last; spike rate ``spike_rate`` (A).
    """
    from imcsim.snn.cost import activity_from_rates, load_hardware, snn_cost
    from imcsim.snn.exits import two_point_histogram
    from imcsim.snn.network import snn_form
    from imcsim.snn.results import compare
    from imcsim.snn.spec import load_snn_spec

    t_max = int(args["timesteps"])
    spec = load_snn_spec({"timesteps": t_max, "spike_rate": float(args.get("spike_rate", 0.15)),
                          "exit": {"rule": args.get("rule", "entropy"), "threshold": 0.5}}, "<case>")
    net = snn_form(_graph(args))
    hw = load_hardware(args.get("accelerator", "acc-sas-mram"))
    sc = snn_cost(hw, net, spec.neuron, activity_from_rates(net, t_max, None, spec.spike_rate), t_max, spec.exit)
    static, dynamic = compare(sc, None, two_point_histogram(float(args["avg_timesteps"]), t_max))
    return 100.0 * dynamic["edp_reduction_vs_static"], {
        "static_energy_pj": static["energy_pj"], "static_latency_ns": static["latency_ns"],
        "dynamic_energy_pj": dynamic["energy_pj"], "dynamic_latency_ns": dynamic["latency_ns"],
        "energy_vs_static": dynamic["energy_vs_static"], "latency_vs_static": dynamic["latency_vs_static"],
        "exit_share": dynamic["exit_share"], "standby_share": dynamic["standby_pj"] / dynamic["energy_pj"],
        "ideal_linear_reduction_pct": 100.0 * (1.0 - (float(args["avg_timesteps"]) / t_max) ** 2)}


CLAIMS: dict[str, Callable[[dict[str, Any]], tuple[float, Details]]] = {
    "trainable_params_k": trainable_params_k,
    "trainable_ratio_pct": trainable_ratio_pct,
    "gradient_filter_memory_saving_pct": gradient_filter_memory_saving_pct,
    "gradient_filter_backward_speedup": gradient_filter_backward_speedup,
    "mobiletl_irb_memory_reduction_pct": mobiletl_irb_memory_reduction_pct,
    "snn_edp_reduction_pct": snn_edp_reduction_pct,
}


# ---------------------------------------------------------------------------------------------- dispatch
def simulate(case: Case, extra_overrides: dict[str, Any] | None = None) -> tuple[float, Details]:
    """The simulated value of ``case`` and its details. ``extra_overrides`` change the device of the
    case's macro (calibration and sensitivity use it)."""
    if case.kind == "macro":
        value, rec = macro_metric(case.macro, case.metric, case.file, extra_overrides)
        return value, _macro_details(rec)
    if case.kind == "macro_ratio":
        num, rec_n = macro_metric(case.macro, case.metric, case.file, extra_overrides)
        den, rec_d = macro_metric(case.baseline, case.metric, case.file)
        return num / den, {case.metric: num, f"baseline_{case.metric}": den, **_macro_details(rec_n),
                           **_macro_details(rec_d, "baseline_")}
    if case.kind == "frontend":
        from imcsim.frontend.claims import CLAIMS as FRONTEND_CLAIMS

        name = case.frontend["claim"]
        if name not in FRONTEND_CLAIMS:
            raise SpecError(case.file, f"{case.name}.frontend.claim", name, ", ".join(FRONTEND_CLAIMS),
                            problem="unknown front-end claim")
        return FRONTEND_CLAIMS[name](case.frontend)
    claim = case.accounting["claim"]
    if claim not in CLAIMS:
        raise SpecError(case.file, f"{case.name}.accounting.claim", claim, ", ".join(CLAIMS),
                        problem="unknown accounting claim")
    return CLAIMS[claim](case.accounting)
