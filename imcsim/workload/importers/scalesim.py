"""SCALE-Sim topology CSV -> layer graph.

Format ([SCALESIM]; scalesim-project/scale-sim-v2 ``topologies/``):
- conv mode: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,
  Strides,`` -- a header row, one layer per row, every row ending with a comma;
- GEMM mode (``-i gemm``): ``Layer Name, M, N, K,`` -- SCALE-Sim runs it as an M x K IFMAP against N
  filters of K, i.e. a linear layer with M tokens, K inputs and N outputs.

What the file cannot say, and how it is read:
- **No connectivity.** Rows are independent layers, so each row after the first reads its own input
  node (``<layer>.ifmap``, op ``input``) of the row's IFMAP shape; the first reads the graph input.
- **No padding.** IFMAP sizes are given already padded, so every conv has padding 0 and the stored
  input size is the padded one. Outputs use conv arithmetic, ``floor((H - R) / S) + 1``, which gives the
  network's true output sizes and MACs for files written with the padding the network uses. (SCALE-Sim's
  own ``topology_utils`` rounds up, ``ceil((H - R + S) / S)``; for a stride-2 row with odd ``H - R`` it
  counts one more output row and column than the network has.)
- **No groups.** An optional extra column whose header contains ``group`` gives the groups; any other
  extra column (SCALE-Sim v3's sparsity) is ignored and listed in ``meta["ignored_columns"]``. With
  ``depthwise="lumped"``, a row with Channels = 1, Num Filter = C > 1 and a k x k filter (k > 1) is read
  as a C-channel depthwise conv (same parameters and MACs as the lumped row), the convention of
  ``shared/data/scalesim/mobilenetv2_dwlumped.csv``; the default, ``"dense"``, keeps every row dense.
- A row with a 1 x 1 IFMAP and a 1 x 1 filter is a fully connected layer and becomes a linear node;
  if the last row is one, it is tagged ``classifier``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from imcsim.errors import SpecError
from imcsim.workload.graph import Graph, GraphBuilder, gc_paused

CONV_COLUMNS = ("layer name", "ifmap height", "ifmap width", "filter height", "filter width", "channels",
                "num filter", "strides")
GEMM_COLUMNS = ("layer name", "m", "n", "k")
DEPTHWISE_MODES = ("dense", "lumped")


def import_scalesim(path: str | Path, depthwise: str = "dense", name: str | None = None) -> Graph:
    """Read a SCALE-Sim topology CSV (conv or GEMM mode, detected from the header)."""
    path = Path(path)
    file = str(path)
    if depthwise not in DEPTHWISE_MODES:
        raise SpecError(file, "depthwise", depthwise, allowed=", ".join(DEPTHWISE_MODES))
    if not path.is_file():
        raise SpecError(file, None, problem="file does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(file, None, problem=f"cannot be read ({exc.__class__.__name__})") from None
    with gc_paused():  # linear in the layer count (see gc_paused)
        return _import(text, file, path, depthwise, name)


def _import(text: str, file: str, path: Path, depthwise: str, name: str | None) -> Graph:
    rows = [(i, _trim(r)) for i, r in enumerate(csv.reader(io.StringIO(text)), start=1)]
    rows = [(i, r) for i, r in rows if any(r)]
    if not rows:
        raise SpecError(file, None, problem="is empty, expected a header row and layer rows")
    (hline, header), data = rows[0], rows[1:]
    cols = [h.strip().lower() for h in header]
    gemm = tuple(cols) == GEMM_COLUMNS
    if not gemm and (len(cols) < len(CONV_COLUMNS) or any(c.isdigit() for c in cols[1:len(CONV_COLUMNS)])):
        raise SpecError(file, f"line {hline}", ", ".join(header), problem="header not recognised:",
                        allowed=f"conv mode '{', '.join(CONV_COLUMNS)}' (+ optional groups column) "
                                f"or GEMM mode '{', '.join(GEMM_COLUMNS)}'")
    if not data:
        raise SpecError(file, None, problem="has a header but no layer rows")
    groups_col = next((i for i, c in enumerate(cols) if i >= len(CONV_COLUMNS) and "group" in c), None)
    ignored = [header[i].strip() for i in range(len(CONV_COLUMNS), len(cols)) if i != groups_col] if not gemm else []

    layers: list[tuple[int, str, list[int]]] = []
    seen: set[str] = set()
    for line, row in data:
        values = _ints(file, line, row, header)
        layer = row[0].strip()
        if not layer:
            raise SpecError(file, f"line {line}", ",".join(row), problem="layer name is empty in row")
        if layer in seen:
            raise SpecError(file, f"line {line}", layer, problem="duplicate layer name")
        seen.add(layer)
        layers.append((line, layer, values))

    specs = [_layer_spec(v, gemm, groups_col, depthwise) for _, _, v in layers]
    b = GraphBuilder(name or path.stem, specs[0][1], source="scalesim", file=file,
                     mode="gemm" if gemm else "conv", output_rounding="floor", depthwise=depthwise,
                     ignored_columns=ignored)
    for n, ((line, layer, _values), (kind, in_shape, out, kernel, stride, groups)) in enumerate(zip(layers, specs)):
        last = n == len(layers) - 1
        try:
            x = b.input if n == 0 else b.extra_input(f"{layer}.ifmap", in_shape)
            if kind == "linear":
                tags = ("classifier",) if last and not gemm else ()
                b.linear(x, out, bias=False, name=layer, tags=tags)
            else:
                b.conv(x, out, kernel, stride, padding=0, groups=groups, name=layer)
        except ValueError as exc:
            raise SpecError(file, f"line {line} ({layer})", None,
                            problem=f"impossible layer: {exc}") from None
    return b.build()


def _layer_spec(values: list[int], gemm: bool, groups_col: int | None, depthwise: str
                ) -> tuple[str, tuple[int, ...], int, tuple[int, int], int, int]:
    """(kind, input shape, outputs, kernel, stride, groups) of one row."""
    if gemm:
        m, n, k = values[:3]
        return "linear", (m, k), n, (1, 1), 1, 1
    h, w, r, s, c, m, stride = values[:7]
    groups = values[groups_col - 1] if groups_col is not None else 1
    if h == w == r == s == 1:
        return "linear", (c,), m, (1, 1), 1, 1
    if depthwise == "lumped" and c == 1 and m > 1 and r * s > 1 and groups == 1:
        return "conv", (m, h, w), m, (r, s), stride, m
    return "conv", (c, h, w), m, (r, s), stride, groups


def _trim(row: list[str]) -> list[str]:
    """Drop the empty fields that SCALE-Sim's trailing commas leave at the end of a row."""
    row = list(row)
    while row and not row[-1].strip():
        row.pop()
    return row


def _ints(file: str, line: int, row: list[str], header: list[str]) -> list[int]:
    if len(row) != len(header):
        raise SpecError(file, f"line {line}", ",".join(row), problem=f"expected {len(header)} fields, got {len(row)}:",
                        allowed=", ".join(h.strip() for h in header))
    out = []
    for col, cell in zip(header[1:], row[1:]):
        try:
            v = int(cell.strip())
        except ValueError:
            v = None
        if v is None or v < 1:
            ignored = col.strip().lower() not in CONV_COLUMNS + GEMM_COLUMNS and "group" not in col.lower()
            if ignored:  # an extra column we do not use may hold anything (v3 sparsity "2:4")
                out.append(0)
                continue
            raise SpecError(file, f"line {line} ({row[0].strip()}).{col.strip()}", cell.strip(),
                            allowed="a positive integer")
        out.append(v)
    return out
