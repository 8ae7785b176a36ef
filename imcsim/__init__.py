"""imcsim: cycle-level simulator of in-memory-computing accelerators.

Python API (docs/api.md), imported on first use so that ``import imcsim`` and the CLI stay fast:

- ``imcsim.run(device=..., workload=..., method=...)`` or ``imcsim.run("study.yaml")`` -> :class:`Result`
- ``imcsim.sweep(device=["sas-mram", "reram"], rows=[64, 128], workload="resnet18")`` -> DataFrame
- ``imcsim.compare(["sas-mram", "reram"], "resnet18", ["repnet"])`` -> DataFrame
- ``imcsim.load_study("study.yaml")`` -> list of :class:`~imcsim.config.study.Study`
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Result", "Results", "compare", "load_study", "run", "sweep", "__version__"]

if TYPE_CHECKING:
    from imcsim.api import Result, Results, compare, load_study, run, sweep  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in __all__ and name != "__version__":
        return getattr(importlib.import_module("imcsim.api"), name)
    raise AttributeError(f"module 'imcsim' has no attribute {name!r}")
