"""``imcsim macro``: one macro design on the dense full-array workload -- configuration, cycles and
energy of one MVM step by component, TOPS, TOPS/W, TOPS/mm^2 and the area breakdown."""

from __future__ import annotations

import argparse

from imcsim.cli.output import add_format_option, emit

ORDER = 40

_FLAGS = {"node_nm": "node", "clock_mhz": "clock"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("macro", help="cycles, energy by component, TOPS/W and area of one IMC macro",
                       description=__doc__)
    p.add_argument("--device", default="sas-mram", help="device card name or path (default: sas-mram)")
    p.add_argument("--rows", type=int, default=128, help="rows of cells (default 128)")
    p.add_argument("--cols", type=int, default=128, help="columns of cells (default 128)")
    p.add_argument("--rows-parallel", type=int, default=64, help="rows summed by one adder tree per cycle (default 64)")
    p.add_argument("--sense-amps", type=int, default=None,
                   help="columns sensed per cycle (default: every column, no column mux)")
    p.add_argument("--in-bits", type=int, default=8, help="input bits (bit-serial planes, default 8)")
    p.add_argument("--w-bits", type=int, default=8, help="weight bits (default 8)")
    p.add_argument("--bits-per-cell", type=int, default=None, help="bits per cell (default: the device card's)")
    p.add_argument("--node", type=float, default=28.0, help="technology node of the periphery in nm (default 28)")
    p.add_argument("--clock", type=float, default=500.0, help="clock in MHz (default 500)")
    p.add_argument("--organisation", choices=("bit_column", "weight_column"), default="bit_column",
                   help="bit_column: popcount tree + accumulator per bit column (default); weight_column: "
                        "bit-weighted tree over a weight's bits, one accumulator per weight column")
    p.add_argument("--input-bits-per-cycle", type=int, choices=(1, 2), default=1,
                   help="input bits per cycle (2: Booth radix-4 digits; default 1)")
    p.add_argument("--activity-model", choices=("activity", "data_independent", "toggle"), default="activity",
                   help="tree energy follows 1-products (default), every gate every cycle, or toggles")
    p.add_argument("--pipeline", choices=("auto", "none"), default="auto",
                   help="a clock above the unpipelined limit: auto adds priced pipeline registers, none refuses")
    p.add_argument("--column-select", choices=("word_line", "local_mux"), default="word_line",
                   help="with muxed columns: word line across the row (default) or local muxes to the sensed "
                        "compute entries (SRAM cell groups)")
    p.add_argument("--input-density", type=float, default=None,
                   help="fraction of input bits that are 1 (default 0.5, an assumption)")
    p.add_argument("--and-density", type=float, default=None,
                   help="fraction of AND products that are 1 (default 0.25, an assumption)")
    add_format_option(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from imcsim.circuit.macro import AREA_COMPONENTS, COMPONENTS, MacroConfig, macro_summary
    from imcsim.errors import SpecError

    try:
        macro = MacroConfig(device=args.device, rows=args.rows, cols=args.cols, rows_parallel=args.rows_parallel,
                            sense_amps=args.cols if args.sense_amps is None else args.sense_amps,
                            in_bits=args.in_bits, w_bits=args.w_bits, bits_per_cell=args.bits_per_cell,
                            node_nm=args.node, clock_mhz=args.clock, organisation=args.organisation,
                            input_bits_per_cycle=args.input_bits_per_cycle, activity_model=args.activity_model,
                            pipeline=args.pipeline, column_select=args.column_select)
        rec = macro_summary(macro, input_density=args.input_density, and_density=args.and_density)
    except SpecError as exc:
        if exc.file != "<macro>":
            raise
        # Name the flag the user typed, not the library field.
        flag = "--" + _FLAGS.get(exc.field or "", exc.field or "").replace("_", "-")
        raise SpecError("<flags>", flag, exc.value, exc.allowed, problem=exc.problem) from None
    if args.format != "table":
        emit([rec], args.format)
        return 0
    config_keys = list(macro.describe()) + ["input_density", "and_density", "activity_source"]
    print(f"organisation {rec['organisation']}, {rec['input_bits_per_cycle']} input bit(s) per cycle, "
          f"activity model {rec['activity_model']}, max unpipelined clock {rec['max_unpipelined_clock_mhz']:.0f} MHz"
          f" (clock {rec['clock_mhz']:g} MHz, adder tree in {rec['tree_stages']} stage(s))")
    emit([{"parameter": k, "value": rec[k]} for k in config_keys], "table", title="configuration")
    total = rec["step_energy_pj"]
    rows = [{"component": c, "energy_pj": rec[f"{c}_pj"], "fj_per_mac": rec[f"{c}_pj"] / rec["step_macs"] * 1e3,
             "share_pct": 100.0 * rec[f"{c}_pj"] / total if total else 0.0} for c in COMPONENTS]
    rows.append({"component": "total", "energy_pj": total, "fj_per_mac": rec["energy_fj_per_mac"], "share_pct": 100.0})
    print()
    emit(rows, "table", title=f"one MVM step on the full array: {rec['step_cycles']:.0f} cycles, "
                              f"{rec['step_macs']} MACs, {rec['step_latency_ns']:.4g} ns")
    perf = [{"metric": m, "value": rec[m], "int8_normalised": rec[f"{m}_int8"]}
            for m in ("tops", "tops_per_w", "tops_per_mm2")]
    print()
    emit(perf, "table", title=f"performance ({args.in_bits}b x {args.w_bits}b; INT8-normalised x Bi x Bw / 64)")
    area_total = rec["area_um2"]
    arows = [{"component": c, "area_um2": rec[f"{c}_um2"], "share_pct": 100.0 * rec[f"{c}_um2"] / area_total}
             for c in AREA_COMPONENTS]
    arows.append({"component": "total", "area_um2": area_total, "share_pct": 100.0})
    print()
    emit(arows, "table", title=f"area: {rec['area_mm2']:.4g} mm^2")
    return 0
