"""Per-resource tables of event-engine runs, read from the ``resources.csv`` files ``imcsim run`` writes
(``<run>_resources.csv`` for multi-run studies; ``Result.resource_records``): busy time, utilisation and
the longest queue of each resource, busiest first, the ``MAX_ROWS`` busiest of each run shown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imcsim.engine.ledger import RESOURCES_CSV

MAX_ROWS = 15


def resource_tables(folder: str | Path, max_rows: int = MAX_ROWS) -> list[tuple[str, pd.DataFrame, int]]:
    """``(run name, its busiest resources, how many resources it has)`` per resources file in ``folder``."""
    out = []
    for path in sorted(Path(folder).glob(f"*{RESOURCES_CSV}")):
        df = pd.read_csv(path)
        if df.empty:
            continue
        run = path.name[: -len(RESOURCES_CSV)].rstrip("_") or "run"
        out.append((run, df.sort_values("utilisation", ascending=False).head(max_rows).reset_index(drop=True),
                    len(df)))
    return out
