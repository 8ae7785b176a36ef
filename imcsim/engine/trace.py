"""Trace export of the event simulation: Chrome trace JSON (opens in Perfetto / chrome://tracing) or CSV.

One track (thread) per resource; each busy interval is a complete event ("ph": "X") named after
its op, with the sample index in ``args``. Times are written in microseconds, as the format expects.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from imcsim.engine.schedule import Timeline
from imcsim.errors import SpecError


def write_trace(timeline: Timeline, path: str | Path, cycle_ns: float) -> Path:
    """Write ``timeline`` to ``path``; ``.json`` gives a Chrome trace, ``.csv`` a table of intervals."""
    path = Path(path)
    if path.suffix not in (".json", ".csv"):
        raise SpecError(str(path), "--trace", path.suffix or path.name, problem="unknown trace format",
                        allowed=".json (Chrome trace, opens in Perfetto) or .csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["resource", "op", "sample", "start_ns", "end_ns"])
            for iv in timeline.intervals:
                w.writerow([iv.resource, iv.op, iv.sample, iv.start * cycle_ns, iv.end * cycle_ns])
        return path
    tids: dict[str, int] = {}
    events: list[dict] = []
    for iv in timeline.intervals:
        tid = tids.setdefault(iv.resource, len(tids) + 1)
        events.append({
            "name": iv.op, "cat": iv.resource.split(":")[0], "ph": "X", "pid": 1, "tid": tid,
            "ts": iv.start * cycle_ns / 1e3, "dur": (iv.end - iv.start) * cycle_ns / 1e3,
            "args": {"sample": iv.sample, "cycles": iv.end - iv.start},
        })
    meta = [{"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": res}}
            for res, tid in tids.items()]
    meta.append({"name": "process_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": "imcsim"}})
    path.write_text(json.dumps({"traceEvents": meta + events, "displayTimeUnit": "ns"}))
    return path
