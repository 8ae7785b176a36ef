"""imcsim: cycle-level simulator of in-memory-computing accelerators.

Python API (docs/api.md), imported on first use so that ``import imcsim`` and the CLI stay fast:

- ``imcsim.run(device=..., workload=..., method=...)`` or ``imcsim.run("study.yaml")`` -> :class:`Result`
- ``imcsim.sweep(device=["sas-mram", "reram"], rows=[64, 128], workload="resnet18")`` -> DataFrame
- ``imcsim.compare(["sas-mram", "reram"], "resnet18", ["repnet"])`` -> DataFrame
- ``imcsim.load_study("study.yaml")`` -> list of :class:`~imcsim.config.study.Study`

``imcsim.sweep`` and ``imcsim.compare`` are also the names of subpackages (the sweep machinery, the
device comparison); Python binds a subpackage to its parent's attribute when it is imported, so those
two modules are callable and forward the call to :mod:`imcsim.api`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Result", "Results", "compare", "load_study", "run", "sweep", "__version__"]

if TYPE_CHECKING:
    from imcsim.api import Result, Results, compare, load_study, run, sweep  # noqa: F401

#: API names that are also subpackages: the (callable) module itself is the public object
_CALLABLE_MODULES = {"sweep", "compare"}


def __getattr__(name: str) -> Any:
    if name in _CALLABLE_MODULES:
        return importlib.import_module(f"imcsim.{name}")
    if name in __all__ and name != "__version__":
        return getattr(importlib.import_module("imcsim.api"), name)
    raise AttributeError(f"module 'imcsim' has no attribute {name!r}")
