"""``imcsim devices``: the device library, one card in full, and write costs side by side.

  imcsim devices                         key read/write/endurance/area figures of every built-in card
  imcsim devices show NAME|PATH          every parameter with value, unit, tag and source; options; chain
  imcsim devices compare A B ... [--out DIR]   8-bit weight and 4-bit group writes relative to A
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from imcsim.cli.output import add_format_option, emit
from imcsim.errors import SpecError

ORDER = 20
FLAGS = "<flags>"
COMPARE_CSV = "devices_compare.csv"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("devices", help="device library: list, show a card, compare write costs",
                              description="The device library: every built-in card with key figures.")
    add_format_option(p)
    _node_option(p)
    p.set_defaults(func=_list)
    sub = p.add_subparsers(dest="devices_command", metavar="SUBCOMMAND")

    show = sub.add_parser("show", help="every parameter of one card with unit, tag and source")
    show.add_argument("device", help="built-in device name or path to a card")
    add_format_option(show)
    show.set_defaults(func=_show)

    cmp_ = sub.add_parser("compare", help="write energy/latency, endurance and area relative to the first")
    cmp_.add_argument("devices", nargs="+", metavar="DEVICE", help="built-in names or card paths")
    cmp_.add_argument("--policy", choices=("all", "diff"), default="all",
                      help="rewrite every bit of a weight (all) or only flipped bits after a verify read")
    cmp_.add_argument("--flip-prob", type=float, default=0.5,
                      help="probability a bit flips, for --policy diff (default 0.5)")
    cmp_.add_argument("--out", metavar="DIR", help=f"also write {COMPARE_CSV} into DIR")
    _node_option(cmp_)
    add_format_option(cmp_)
    cmp_.set_defaults(func=_compare)


def _node_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node-nm", type=float, default=28.0, help="node for cell areas (default 28)")


def _check_node(args: argparse.Namespace) -> float:
    if not args.node_nm > 0:
        raise SpecError(FLAGS, "--node-nm", args.node_nm, "a node size > 0 in nm", problem="bad value")
    return args.node_nm


def _list(args: argparse.Namespace) -> int:
    from imcsim.device.library import list_devices, load_device

    node = _check_node(args)
    records = []
    for name in list_devices():
        dev = load_device(name)
        w8 = dev.expected_write(1, bits=8, policy="all")
        records.append({
            "device": name,
            "technology": dev.technology,
            "read_energy_per_bit_fj": dev.read_energy_per_bit_fj,
            "read_latency_ns": dev.read_latency_ns,
            "write_energy_per_bit_fj": w8.energy_pj * 1e3 / 8,
            "weight8_write_latency_ns": w8.latency_ns,
            "endurance_cycles": dev.endurance_cycles,
            "retention_years": dev.retention_years,
            "area_per_bit_um2": dev.area_per_bit_um2(node),
            "leakage_nw_per_bit": dev.leakage_w_per_bit_at(node) * 1e9,
        })
    emit(records, args.format, title=f"device library (writes: one 8-bit weight, policy all; area and leakage at {node:g} nm)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from imcsim.device.library import load_card, model_from_card

    card = load_card(args.device)
    model = model_from_card(card)
    records: list[dict[str, Any]] = []
    for file in card.chain:
        records.append({"kind": "card", "name": Path(file).stem, "value": file, "unit": None, "tag": None,
                        "source": None, "card": None})
    for key, value in card.options.model_dump().items():
        records.append({"kind": "option", "name": key, "value": value, "unit": None, "tag": None,
                        "source": None, "card": None})
    for name in card.param_names():
        p = card.param(name)
        records.append({"kind": "param", "name": name, "value": p.value, "unit": p.unit, "tag": p.tag,
                        "source": p.source, "card": card.defined_in.get(name)})
    for fig in model.derived_figures():
        records.append({"kind": "derived", "name": fig["name"], "value": fig["value"], "unit": fig["unit"],
                        "tag": "D", "source": fig["formula"], "card": None})
    title = (f"{card.name} ({card.technology}): {card.description}\n"
             f"provenance: {card.provenance}\n"
             f"inherits: {' -> '.join(Path(f).stem for f in card.chain)}")
    emit(records, args.format, title=title,
         columns=["kind", "name", "value", "unit", "tag", "source", "card"])
    if args.format == "table":
        texts = [card.provenance] + [r["source"] or "" for r in records]
        for line in cited_sources(texts):
            print(line)
    return 0


def cited_sources(texts: list[str]) -> list[str]:
    """``sources:`` then one line per ``[KEY]`` cited in ``texts`` (first-cited first): the entry's
    bibliographic part from docs/references.md, so a citation can be followed from the terminal."""
    import re

    from imcsim.paths import references_file

    keys = list(dict.fromkeys(k for text in texts for group in re.findall(
        r"\[([A-Z][A-Z0-9-]*(?:, ?[A-Z][A-Z0-9-]*)*)\]", text) for k in re.split(r", ?", group)
        if k not in {"S", "T", "D", "A", "P", "U"}))
    if not keys:
        return []
    refs = references_file()
    if refs is None:
        return ["sources: " + ", ".join(f"[{k}]" for k in keys) + " (docs/references.md is in the source tree)"]
    text = refs.read_text(encoding="utf-8")
    out = ["sources:"]
    for key in keys:
        m = re.search(r"^- \*\*\[" + re.escape(key) + r"\]\*\* (.*?)(?=\n- \*\*\[|\n\n|\Z)", text, re.M | re.S)
        entry = " ".join(m.group(1).split()) if m else "(not in docs/references.md)"
        entry = re.split(r" \*Supports:\*| Taken:", entry)[0]
        out.append(f"  [{key}] {entry[:160] + ('...' if len(entry) > 160 else '')}")
    return out


def compare_records(names: list[str], policy: str, flip_prob: float, node_nm: float) -> list[dict[str, Any]]:
    """One record per device: 8-bit weight and 4-bit group writes, endurance, area; ratios to the first."""
    from imcsim.device.library import load_device

    records: list[dict[str, Any]] = []
    for name in names:
        dev = load_device(name)
        w8 = dev.expected_write(1, bits=8, policy=policy, flip_prob=flip_prob)
        g4 = dev.four_bit_write(policy=policy, flip_prob=flip_prob)
        records.append({
            "device": dev.name,
            "technology": dev.technology,
            "policy": policy,
            "weight8_energy_pj": w8.energy_pj,
            "weight8_latency_ns": w8.latency_ns,
            "weight8_pulses": w8.pulses,
            "group4_energy_pj": g4.energy_pj,
            "group4_latency_ns": g4.latency_ns,
            "group4_pulses": g4.pulses,
            "write_energy_per_bit_fj": w8.energy_pj * 1e3 / 8,
            "endurance_cycles": dev.endurance_cycles,
            "area_per_bit_um2": dev.area_per_bit_um2(node_nm),
        })
    first = records[0]
    for rec in records:
        for key in ("weight8_energy_pj", "weight8_latency_ns", "group4_energy_pj", "endurance_cycles",
                    "area_per_bit_um2"):
            base = first[key]
            rec[key.rsplit("_", 1)[0] + "_rel"] = rec[key] / base if base else None
    return records


def _compare(args: argparse.Namespace) -> int:
    node = _check_node(args)
    if not 0.0 <= args.flip_prob <= 1.0:
        raise SpecError(FLAGS, "--flip-prob", args.flip_prob, "a probability in [0, 1]", problem="bad value")
    records = compare_records(args.devices, args.policy, args.flip_prob, node)
    emit(records, args.format,
         title=f"write cost relative to {records[0]['device']} (policy {args.policy}; area at {node:g} nm)")
    if args.out:
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            with open(out / COMPARE_CSV, "w", encoding="utf-8") as stream:
                emit(records, "csv", stream=stream)
        except OSError as exc:
            raise SpecError(FLAGS, "--out", str(out), "a writable folder",
                            problem=f"cannot write ({exc.strerror}):") from None
    return 0
