"""Importers: workloads from other tools' files into the layer-graph IR.

- :func:`~imcsim.workload.importers.scalesim.import_scalesim`: SCALE-Sim topology CSV (conv or GEMM mode).
- :func:`~imcsim.workload.importers.onnx_import.import_onnx`: ONNX models (needs the ``onnx`` package).
- :func:`import_file` picks one by the file extension.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imcsim.errors import SpecError
from imcsim.workload.graph import Graph

FORMATS = {".csv": "scalesim", ".onnx": "onnx"}


def import_file(path: str | Path, fmt: str | None = None, **options: Any) -> Graph:
    """Import ``path`` as ``fmt`` (``scalesim`` | ``onnx``; default from the extension)."""
    path = Path(path)
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt == "scalesim":
        from imcsim.workload.importers.scalesim import import_scalesim

        return import_scalesim(path, **options)
    if fmt == "onnx":
        from imcsim.workload.importers.onnx_import import import_onnx

        return import_onnx(path, **options)
    raise SpecError(str(path), "format", fmt or path.suffix, problem="unknown workload file format",
                    allowed="scalesim (.csv), onnx (.onnx)")
