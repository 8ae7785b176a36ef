"""Design-space sweeps: specs (flags or YAML), a streaming resumable result store, and runners.

Public API (imported lazily, so parsing a spec does not load pyarrow or Dask):

- ``spec``: ``spec_from_flags``, ``split_flag_args``, ``load_sweep``, ``spec_from_mapping``,
  ``field_types_from_model``, ``SweepSpec``, ``Point``, ``point_id``
- ``runner``: ``run_sweep``, ``SweepSummary``, ``SweepInterrupted``
- ``store``: ``read_results``, ``read_manifest``, ``compact``

See docs/sweep.md for the spec format, the store layout and resume semantics.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "spec_from_flags": "spec", "split_flag_args": "spec", "load_sweep": "spec", "spec_from_mapping": "spec",
    "field_types_from_model": "spec", "SweepSpec": "spec", "Point": "spec", "point_id": "spec",
    "run_sweep": "runner", "SweepSummary": "runner", "SweepInterrupted": "runner",
    "read_results": "store", "read_manifest": "store", "compact": "store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imcsim.sweep' has no attribute {name!r}")
    return getattr(importlib.import_module(f"imcsim.sweep.{module}"), name)


# ``imcsim.sweep(...)`` (the API function, imcsim/api.py) is this package called
from imcsim._callable import make_callable  # noqa: E402

make_callable(__name__)
