"""Frozen engine results: the per-layer pricer's output on a grid of studies, kept to check that a faster
pricer changes no number.

``tests/data/engine_golden.json`` was written by ``python tests/engine_golden.py`` run on main at commit
84051eb (exported with ``git archive``: before the vectorised pricer, issue 15 item 2), when
``engine/costs.py`` priced every op in its own Python call (``circuit.macro.layer_cost`` per layer and tile). For each case it holds the analytic ``summary()``
(every field), and SHA-256 digests of what the event engines and reports read: the per-op records
(``layer_records()``: name, resource, executions, cycles, MACs, macros, writes and energy by component),
the timed items (stage and barrier order, op, resource, cycles) and the per-op buffer-port bytes. Numbers
are digested as the ``repr`` of their float value (exact to the last bit; an int count equals its float).

Regenerate only when a cost term changes on purpose (then say so in the commit): the point of the file is
that a speed-up does not regenerate it. A semantic change landing next to a speed-up is checked by
regenerating from the per-layer pricer with that change alone (as was done for main's FinFET area and
SRAM-leakage-per-node changes, up to 84051eb).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "data" / "engine_golden.json"

#: devices x methods x geometries x reload regimes (resident, streamed in one round, in many rounds)
CASES: dict[str, dict[str, Any]] = {
    "resnet18-inference": {"workload": "resnet18"},
    "resnet18-full-b4-128": {"workload": "resnet18", "method": "full", "batch_size": 4, "rows": 128, "cols": 128},
    "resnet18-replicate-b2-rp16": {"workload": "resnet18", "replicate": True, "batch_size": 2, "rows": 128,
                                   "cols": 128, "rows_parallel": 16},
    "resnet18-last-sram-weights": {"workload": "resnet18", "method": "last", "method.trained_weights_in": "sram"},
    "resnet18-full-rounds-64": {"workload": "resnet18", "method": "full", "chip.cell_capacity_mibit": 4,
                                "rows": 64, "cols": 64},
    "resnet18-weight-column-booth": {"workload": "resnet18", "method": "full", "macro.organisation": "weight_column",
                                     "macro.input_bits_per_cycle": 2, "macro.activity_model": "toggle",
                                     "chip.power_gating": "macros+buffers", "column_mux": 2, "bits_per_cell": 2},
    "resnet50-sparse-reram": {"workload": "resnet50", "method": "sparse-update", "device": "reram"},
    "mobilenetv2-repnet-b8-sot": {"workload": "mobilenetv2", "method": "repnet", "batch_size": 8,
                                  "device": "sot-mram"},
    "vit-lora-stt-streamed": {"workload": "vit-b16", "method": "lora", "chip.cell_capacity_mibit": 16,
                              "device": "stt-mram"},
    "vgg16-sram-rounds": {"workload": "vgg16", "chip.cell_capacity_mibit": 8, "device": "sram"},
    "digits-transposed-copy-pcm": {"workload": "digits-cnn", "method": "full", "backward": "transposed-copy",
                                   "device": "pcm", "batch_size": 3, "write_policy": "diff"},
    "digits-digital-backward": {"workload": "digits-cnn", "method": "full", "backward": "digital",
                                "activity": 0.3, "replicate": True, "node_nm": 16},
    "mobilenetv2-lite-residual-32x32": {"workload": "mobilenetv2", "method": "lite-residual", "rows": 32,
                                        "cols": 32, "rows_parallel": 8, "device": "sas-mram",
                                        "chip.contention": True, "batch_size": 2},
}


def _num(obj: Any) -> Any:
    """Numbers as floats (an int count and the same count as a float are one number), recursively."""
    if isinstance(obj, bool) or isinstance(obj, str) or obj is None:
        return obj
    if isinstance(obj, (int, float)):
        return float(obj)
    if isinstance(obj, dict):
        return {k: _num(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_num(v) for v in obj) if isinstance(obj, list) else tuple(_num(v) for v in obj)
    return float(obj)  # numpy scalars


def _digest(obj: Any) -> str:
    return hashlib.sha256(repr(_num(obj)).encode()).hexdigest()


def snapshot(params: dict[str, Any]) -> dict[str, Any]:
    """What the golden file keeps for one study (see the module docstring)."""
    from imcsim.config.study import study_from_params
    from imcsim.engine import evaluate
    from imcsim.engine.context import build_context
    from imcsim.engine.costs import price_step
    from imcsim.engine.schedule import Barrier

    study = study_from_params(params)
    result = evaluate(study, engine="analytic")
    priced = price_step(build_context(study))
    items = [("B", tuple(tuple(s) for s in it.stages)) if isinstance(it, Barrier) else ("S", tuple(it))
             for it in priced.items]
    return {"summary": {k: (v if not isinstance(v, float) else repr(v)) for k, v in _num(result.summary()).items()},
            # the per-op ``basis`` column (measured or assumed, added later) is left out: what it marks is
            # checked in tests/test_engine_measured.py; the digest keeps covering every number
            "records": _digest([sorted((k, v) for k, v in r.items() if k != "basis") for r in result.layer_records()]),
            "items": _digest(items),
            "port_bytes": _digest(sorted(priced.port_bytes.items())),
            "exclusive": sorted(priced.exclusive)}


def main() -> None:
    out = {name: snapshot(params) for name, params in CASES.items()}
    GOLDEN.write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(out)} cases)", file=sys.stderr)


if __name__ == "__main__":
    main()
