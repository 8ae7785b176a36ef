"""The sweep result store: append-only Parquet parts in the output folder, plus a manifest.

Layout of an output folder::

    sweep.json              manifest: format, version, spec, fields, point count, plan hash, runs
    plan.parquet            the planned points in order: point (int), point_id (str)
    results/part-NNNNNN.parquet
                            one row per finished point: point_id, the study fields, status
                            ("ok" | "error"), error (one line or null), then the metrics

Why this shape: rows stream to disk in small batches while the sweep runs, each part written to a
temporary name and renamed into place, so a crash, a kill or Ctrl-C loses at most the unflushed
batch and never leaves a half-written part. Memory stays flat: the store holds one batch, and the
set of finished point ids for resume. Reading concatenates the parts (a later row for the same point
id wins, which is how a retried point replaces its failure) and orders them by the plan, so the
table does not depend on how many workers produced it or in which order they finished.

Safety: opening a folder that holds a different sweep, or the same sweep without ``resume``, is a
:class:`SpecError` raised before anything in the folder is written. ``force`` deletes the stored
results (and only the store's own files: ``sweep.json``, ``plan.parquet``, ``results/*.parquet``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import imcsim
from imcsim.errors import SpecError
from imcsim.sweep.outdir import (
    LOCK,  # noqa: F401 (re-exported: the lock file name)
    acquire_lock,
    check_folder,
    check_not_locked,
    release_lock,
    run_files,
)
from imcsim.sweep.spec import Point

log = logging.getLogger("imcsim.sweep")

FORMAT = "imcsim-sweep"
VERSION = 1
MANIFEST = "sweep.json"
PLAN = "plan.parquet"
RESULTS = "results"
RESERVED = ("point", "point_id", "status", "error")
DAMAGED = "damaged"
#: rows buffered before a part is written (or ``flush_seconds``, whichever comes first): parts of
#: ~1,000 rows keep a 100,000-point sweep at ~100 files, and the time bound keeps what a kill loses small
FLUSH_ROWS = 1024
#: the first part is written after this many rows (a sweep stopped early has results on disk)
FIRST_FLUSH_ROWS = 64
#: a run whose parts hold at most this many rows together when it closes writes them again as one part (kept
#: in memory as Arrow tables till then: ~1 MB per 1,000 rows of ~100 metrics), so a short sweep ends with one
#: part and its compaction has nothing to read
MERGE_ROWS = 4096
#: how the parts written while a sweep runs are written: no column statistics and no dictionary pages
#: (~1 ms less per part of ~100 columns; nothing reads the statistics)
PART_WRITE: dict[str, Any] = {"write_statistics": False, "use_dictionary": False}
#: how compaction writes its parts: dictionary pages (half the size: a column of text repeats its few values)
#: but no statistics (a row group's min and max of ~100 columns: 15 % of the writing and a quarter of the file)
COMPACT_WRITE: dict[str, Any] = {"write_statistics": False}


def read_part(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """One Parquet file of the store, whole or some columns (``ParquetFile.read``: a part is one file, and
    ``pq.read_table`` sets up a dataset for it first, ~30 % of the time to read a part of 1,024 rows)."""
    with pq.ParquetFile(path) as pf:
        return pf.read(columns=list(columns) if columns is not None else None)
_PART = re.compile(r"^part-(\d{6,})\.parquet$")


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def plan_hash(points: Sequence[Point]) -> str:
    """Identity of a sweep: the ordered point ids (two specs giving the same points are the same sweep)."""
    h = hashlib.sha256()
    for p in points:
        h.update(p.id.encode("ascii") + b"\n")
    return h.hexdigest()


class ResultStore:
    """Writes result rows of one sweep run into an output folder; use :meth:`open`, then ``close``."""

    def __init__(self, out_dir: Path, manifest: dict[str, Any], done: dict[str, str], next_seq: int,
                 cleared: int, flush_every: int, flush_seconds: float, lock: Path | None = None,
                 merge_on_close: bool = True) -> None:
        self.out_dir = out_dir
        self._lock = lock
        self.manifest = manifest
        self.stored_status = done          # point_id -> latest stored status
        self.cleared = cleared             # rows deleted by force
        self.flush_every = max(1, int(flush_every))
        self.flush_seconds = float(flush_seconds)
        self._seq = next_seq
        self._parts_before = next_seq > 0          # the folder held parts when this run opened it
        self._buffer: list[Record] = []
        # this run's parts as written (path, table), merged into one on close; None once over MERGE_ROWS
        self._held: list[tuple[Path, pa.Table]] | None = [] if merge_on_close else None
        self._last_flush = time.monotonic()
        self._closed = False
        self.rows_written = 0
        self.parts_written = 0

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, out_dir: str | Path, points: Sequence[Point], *, fields: Sequence[str],
             spec: Mapping[str, Any] | None = None, resume: bool = False, force: bool = False,
             flush_every: int = FLUSH_ROWS, flush_seconds: float = 2.0, merge_on_close: bool = True) -> ResultStore:
        """Check the folder, then (only then) clear/prepare it and write the plan and manifest.
        ``merge_on_close=False``: the run's parts stay as written (see :data:`MERGE_ROWS`)."""
        out = Path(out_dir)
        check_folder(out)
        bad = [f for f in fields if f in RESERVED]
        if bad:
            raise SpecError(str(out), bad[0], problem="field name is reserved by the result table",
                            allowed=f"names other than {', '.join(RESERVED)}")
        h = plan_hash(points)
        check_not_locked(out)
        has_manifest = (out / MANIFEST).exists()
        old = _read_manifest(out, damaged_ok=force) if has_manifest else None
        if not has_manifest and _part_files(out):
            raise SpecError(str(out), RESULTS, problem="holds result parts but no sweep.json; not touching it",
                            allowed="a new or empty output folder")
        runs = run_files(out)
        if runs and not force:
            raise SpecError(str(out), runs[0].name, problem="holds an imcsim run; a sweep would mix with it",
                            allowed="another output folder, or --force to replace the run's results")
        status = _stored_status(out) if old is not None else {}
        if old is not None and not force and not resume:
            if old.get("plan_hash") == h:
                raise SpecError(str(out), MANIFEST, problem=(
                    f"already holds this sweep ({_count_planned(status, points)} of {len(points)} "
                    "points stored)"), allowed=(
                    "--resume to finish it, --force to delete the stored results and start over, "
                    "or another output folder"))
            raise SpecError(str(out), MANIFEST, problem=(
                f"holds a different sweep ({old.get('n_points')} points over "
                f"{', '.join(old.get('fields', []))}; this one has {len(points)} points)"), allowed=(
                "another output folder, --resume to keep its results and reuse the points both share, "
                "or --force to delete its stored results"))
        # Every check passed: from here on the folder is ours to write.
        out.mkdir(parents=True, exist_ok=True)
        lock = acquire_lock(out)
        try:
            cleared = 0
            if force and (has_manifest or runs):
                cleared = len(status)
                _clear(out)
                for p in runs:
                    p.unlink(missing_ok=True)
                log.warning("--force: deleted %d stored results from %s", cleared, out)
                old, status = None, {}
            (out / RESULTS).mkdir(exist_ok=True)
            _remove_temporaries(out)
            if quarantine_damaged(out):   # their points are not stored any more: evaluated again
                status = _stored_status(out)
            manifest = {
                "format": FORMAT, "version": VERSION, "imcsim_version": imcsim.__version__,
                "spec": dict(spec) if spec is not None else None, "fields": list(fields),
                "n_points": len(points), "plan_hash": h,
                "started": (old or {}).get("started") or now_iso(), "finished": None,
                "runs": list((old or {}).get("runs", [])),
            }
            _write_plan(out, points)
            _write_json(out / MANIFEST, manifest)
            seqs = [_seq_of(p) for p in _part_files(out)]
            return cls(out, manifest, status, max(seqs, default=-1) + 1, cleared, flush_every,
                       flush_seconds, lock, merge_on_close)
        except BaseException:
            release_lock(lock)
            raise

    # ------------------------------------------------------------------ writing

    def add(self, point: Point, status: str, error: str | None, metrics: Mapping[str, Any]) -> None:
        """Buffer one finished point; flush when the batch is full or old enough."""
        self.add_many([(point, status, error, metrics)])

    def add_many(self, results: Sequence[tuple[Point, str, str | None, Mapping[str, Any]]]) -> None:
        """Buffer finished points (a chunk's, in order), flushing as :meth:`add` would after each one: a
        part holds ``flush_every`` rows (the first one fewer) whatever the chunk sizes."""
        status_of = self.stored_status
        start = 0
        while start < len(results):
            # the first part early (a sweep stopped soon still has results on disk), then big parts
            limit = self.flush_every if self.parts_written else min(self.flush_every, FIRST_FLUSH_ROWS)
            take = results[start:start + max(1, limit - len(self._buffer))]
            start += len(take)
            for point, status, error, metrics in take:
                pid = point.id
                self._buffer.append((pid, point.params, status, error, metrics))
                status_of[pid] = status
            if len(self._buffer) >= limit or time.monotonic() - self._last_flush >= self.flush_seconds:
                self.flush()

    def flush(self, *, closing: bool = False) -> None:
        """Write the buffered rows as one new part (temporary name, then an atomic rename).

        This run's parts are kept in memory while they hold at most :data:`MERGE_ROWS` rows together: on
        closing, they and the last rows go out as one part and the earlier files are deleted after the
        rename (in between, both hold the same rows: reading is unchanged)."""
        self._last_flush = time.monotonic()
        held = self._held
        merge = closing and bool(held) and (len(held) > 1 or bool(self._buffer))   # type: ignore[arg-type]
        if not self._buffer and not merge:
            return
        rows, self._buffer = self._buffer, []
        table = records_to_table(rows) if rows else None
        if merge:
            table = unify_tables([t for _, t in held] + ([table] if table is not None else []))  # type: ignore[union-attr]
        assert table is not None
        final = self.out_dir / RESULTS / f"part-{self._seq:06d}.parquet"
        tmp = final.with_name("." + final.name + ".tmp")
        pq.write_table(table, tmp, **PART_WRITE)
        os.replace(tmp, final)
        if merge:
            for path, _ in held:   # type: ignore[union-attr]
                path.unlink(missing_ok=True)
            self._held = [(final, table)]
        elif held is not None:
            held.append((final, table))
            if sum(t.num_rows for _, t in held) > MERGE_ROWS:
                self._held = None   # too big to hold: compaction merges them
        self._seq += 1
        self.rows_written += len(rows)
        self.parts_written += 1

    @property
    def single_part(self) -> bool:
        """The folder holds at most one part, written by this run and no bigger than compaction writes
        (then compaction has nothing to do)."""
        return (not self._parts_before and self._held is not None and len(self._held) <= 1
                and self.rows_written <= COMPACT_ROWS_PER_PART)

    def close(self, run: Mapping[str, Any], *, complete: bool) -> None:
        """Flush, record this run in the manifest (``finished`` once every planned point is stored)."""
        if self._closed:
            return
        try:
            self.flush(closing=True)
            self.manifest["runs"].append(dict(run))
            self.manifest["finished"] = now_iso() if complete else None
            _write_json(self.out_dir / MANIFEST, self.manifest)
        finally:
            self._closed = True
            release_lock(self._lock)


# ---------------------------------------------------------------------- reading


def read_results(folder: str | Path, *, all_rows: bool = False, columns: Callable[[str], bool] | None = None):
    """The result table of a sweep folder as one pandas DataFrame, ordered by the plan.

    Columns: ``point`` (position in the plan), ``point_id``, the study fields, ``status``, ``error``,
    then the metrics. Rows of points outside the current plan (kept from an earlier spec by
    ``--resume``) are left out unless ``all_rows``; they then come last with ``point`` missing.
    ``columns`` picks the stored columns to read (by name; ``point_id`` always): only those leave the
    Parquet files.
    """
    out = Path(folder)
    manifest = _read_manifest(out)
    table = _read_parts(out, columns)
    df = table.to_pandas() if table is not None else _empty_frame(manifest.get("fields", []))
    df = df.drop_duplicates("point_id", keep="last")
    try:
        plan = pq.read_table(out / PLAN).to_pandas()
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise SpecError(str(out / PLAN), None, problem=f"cannot be read ({type(exc).__name__})",
                        allowed="the plan written by imcsim sweep (--resume or --force writes it again)") from None
    df = df.merge(plan, on="point_id", how="left" if all_rows else "inner", validate="one_to_one")
    df = df.sort_values(["point", "point_id"], na_position="last", kind="stable").reset_index(drop=True)
    if not all_rows:
        df["point"] = df["point"].astype("int64")
    first = ["point", "point_id"] + [f for f in manifest.get("fields", []) if f in df.columns] + ["status", "error"]
    return df[first + [c for c in df.columns if c not in first]]


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The ``sweep.json`` of a sweep folder (SpecError if there is none or it is not ours)."""
    return _read_manifest(Path(folder))


def compact(folder: str | Path) -> int:
    """Merge the parts of a folder (latest row per point) into parts of at most
    :data:`COMPACT_ROWS_PER_PART` rows; returns the number of parts merged.

    Streaming, so memory is bounded by one part, one row group (:data:`COMPACT_ROW_GROUP_ROWS`) and the point
    ids whatever the sweep's size (a store of at most :data:`COMPACT_READ_WHOLE_ROWS` rows is read once,
    whole): the point-id column of every part is read first (which row of which part is the latest for each
    point), then the parts are read one at a time, filtered to those rows, conformed to one schema
    (:func:`_unified_schema`: the rule a single part follows) and appended to a Parquet writer. Several output
    parts, not one, so one damaged file later costs a bounded share of the results. The new parts
    are renamed into place before the old ones are deleted, and a later row wins on reading, so an
    interruption at any moment leaves a readable store. Damaged parts are skipped (see
    :func:`quarantine_damaged`).
    """
    out = Path(folder)
    _read_manifest(out)
    lock = acquire_lock(out)
    try:
        parts = _readable_parts(out)
        if len(parts) <= 1 and all(rows <= COMPACT_ROWS_PER_PART for _, _, rows in parts):
            return len(parts)
        # a small store is read once, whole (a few MB); a bigger one by its point ids first, then one part
        # at a time
        small = sum(rows for _, _, rows in parts) <= COMPACT_READ_WHOLE_ROWS
        tables: list[pa.Table | None] | None = [read_part(p) for p, _, _ in parts] if small else None
        keep, offsets = _latest_rows([t.column("point_id") for t in tables] if tables is not None
                                     else [read_part(p, ["point_id"]).column(0) for p, _, _ in parts])
        schema = _unified_schema([schema for _, schema, _ in parts], _part_int_bounds(parts, tables))
        writer = _PartWriter(out, max(_seq_of(p) for p in _part_files(out)) + 1, schema)
        try:
            for i, (path, _, _) in enumerate(parts):
                table = tables[i] if tables is not None else read_part(path)
                if tables is not None:
                    tables[i] = None   # released once the writer has written its row group
                if keep is not None:
                    table = table.filter(pa.array(keep[offsets[i]:offsets[i] + table.num_rows]))
                writer.write(_conform(table, schema))
                del table
            written = writer.close()
        except BaseException:
            writer.abort()
            raise
        keep_names = {w.name for w in written}
        for p, _, _ in parts:
            if p.name not in keep_names:
                p.unlink()
        return len(parts)
    finally:
        release_lock(lock)


def _part_int_bounds(parts: Sequence[tuple[Path, pa.Schema, int]], tables: Sequence[pa.Table | None] | None
                     ) -> IntBounds:
    """:data:`IntBounds` of parts: from their tables when read whole, else that one column of each part."""
    if tables is not None:
        return _table_int_bounds(tables)   # type: ignore[arg-type]

    def bounds(name: str) -> tuple[int, int]:
        return _bounds_of(read_part(p, [name]).column(0) for p, schema, _ in parts
                          if name in schema.names and pa.types.is_integer(schema.field(name).type))
    return bounds


def _readable_parts(out: Path) -> list[tuple[Path, pa.Schema, int]]:
    """(path, schema, rows) of the parts that open as result parts (footer read once, file closed:
    an open ParquetFile keeps what it read, which for every part at once is the whole store);
    the others are skipped with a warning naming them."""
    parts = []
    for p in _part_files(out):
        try:
            with pq.ParquetFile(p) as pf:
                schema, rows = pf.schema_arrow, pf.metadata.num_rows
        except (OSError, pa.ArrowException, ValueError) as exc:
            log.warning("skipping damaged result part %s (%s)", p, " ".join(str(exc).split())[:120])
            continue
        if "point_id" not in schema.names or "status" not in schema.names:
            log.warning("skipping result part %s (not an imcsim result part)", p)
            continue
        parts.append((p, schema, rows))
    return parts


def _latest_rows(id_columns: Sequence[Any]) -> tuple[Any, list[int]]:
    """A boolean per stored row (each part's point-id column, parts in order): is it the latest row of
    its point? None when every point is stored once (a sweep that never re-evaluated a point: nothing
    to drop). Also each part's first row. Computed in Arrow from the point ids alone."""
    import numpy as np

    ids, offsets, total = [], [], 0
    for col in id_columns:
        # the arrays themselves (pa.chunked_array takes a ChunkedArray as a sequence: value by value in Python)
        ids.extend(col.cast(pa.string()).chunks if isinstance(col, pa.ChunkedArray) else [col.cast(pa.string())])
        offsets.append(total)
        total += len(col)
    chunked = pa.chunked_array(ids, pa.string())
    if len(pc.unique(chunked)) == total:   # (a tenth of pc.count_distinct's time on 100k ids)
        return None, offsets
    table = pa.table({"point_id": chunked, "row": pa.array(np.arange(total))})
    last = table.group_by("point_id").aggregate([("row", "max")]).column("row_max").to_numpy()
    keep = np.zeros(total, dtype=bool)
    keep[last] = True
    return keep, offsets


#: rows per part after compaction: bounded memory to read one, and a damaged file loses at most these
COMPACT_ROWS_PER_PART = 50_000
#: a store of at most this many rows is compacted from one read of each part (~100 metrics a row: ~8 MB),
#: a bigger one reads its point ids first and then each part again
COMPACT_READ_WHOLE_ROWS = 10_000


#: rows gathered before compaction writes a row group: a row group per ~1,000-row part written cost 2.5x the
#: writing of one table, and every later read pays per row group and column; 4,096 rows (~4 MB of ~100 metrics)
#: keep most of the gain (10,000 added ~15 MiB to the peak RSS of a 100k-point sweep's compaction)
COMPACT_ROW_GROUP_ROWS = 4096


class _PartWriter:
    """Appends tables to ``part-NNNNNN.parquet`` files of at most COMPACT_ROWS_PER_PART rows each, in row
    groups of about COMPACT_ROW_GROUP_ROWS rows, under temporary names until :meth:`close` renames them all
    into place."""

    def __init__(self, out: Path, seq: int, schema: pa.Schema) -> None:
        self.out, self.seq, self.schema = out, seq, schema
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0
        self.tmp: list[tuple[Path, Path]] = []
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= COMPACT_ROW_GROUP_ROWS:
            self._write_pending()

    def _write_pending(self) -> None:
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)   # one schema (conformed): no copy, chunks side by side
        self.pending, self.pending_rows = [], 0
        start = 0
        while start < table.num_rows:
            if self.writer is None or self.rows >= COMPACT_ROWS_PER_PART:
                self._next()
            n = min(table.num_rows - start, COMPACT_ROWS_PER_PART - self.rows)
            self.writer.write_table(table.slice(start, n))  # type: ignore[union-attr]
            self.rows += n
            start += n

    def _next(self) -> None:
        if self.writer is not None:
            self.writer.close()
        final = self.out / RESULTS / f"part-{self.seq:06d}.parquet"
        tmp = final.with_name("." + final.name + ".tmp")
        self.tmp.append((tmp, final))
        self.writer = pq.ParquetWriter(tmp, self.schema, **COMPACT_WRITE)
        self.seq += 1
        self.rows = 0

    def close(self) -> list[Path]:
        self._write_pending()
        if self.writer is not None:
            self.writer.close()
        for tmp, final in self.tmp:
            os.replace(tmp, final)
        return [final for _, final in self.tmp]

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            if self.writer is not None:
                self.writer.close()
        for tmp, _ in self.tmp:
            tmp.unlink(missing_ok=True)


#: the integers a float64 column holds exactly: a column of integers beyond them beside floats is text
FLOAT_EXACT_INT = 2**53

IntBounds = Callable[[str], tuple[int, int]]


def _unified_schema(schemas: Sequence[pa.Schema], int_bounds: IntBounds) -> pa.Schema:
    """One schema for parts whose columns differ, by the rule a single part follows (``pa.array`` on the
    values, then :func:`_text`): integers and floats make a float column when every integer is exact as a
    float (``int_bounds(name)``: the least and greatest integer of the column, asked only then), any other
    clash of kinds makes a text column."""
    kinds: dict[str, list[pa.DataType]] = {}
    for schema in schemas:
        for f in schema:
            kinds.setdefault(f.name, []).append(f.type)
    fields = []
    for name, types in kinds.items():
        real = [t for t in types if not pa.types.is_null(t)]
        if not real:
            kind = pa.null()
        elif all(t == real[0] for t in real):
            kind = real[0]
        elif all(pa.types.is_integer(t) for t in real):
            kind = pa.int64()
        elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in real):
            lo, hi = int_bounds(name)
            kind = pa.float64() if -FLOAT_EXACT_INT <= lo and hi <= FLOAT_EXACT_INT else pa.string()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def _bounds_of(columns: Iterable[Any]) -> tuple[int, int]:
    """The least and greatest value of integer columns (0, 0 when all are empty or null)."""
    lo, hi = 0, 0
    for col in columns:
        got = pc.min_max(col)
        if got["min"].is_valid:
            lo, hi = min(lo, got["min"].as_py()), max(hi, got["max"].as_py())
    return lo, hi


def _table_int_bounds(tables: Sequence[pa.Table]) -> IntBounds:
    def bounds(name: str) -> tuple[int, int]:
        return _bounds_of(t.column(name) for t in tables
                          if name in t.schema.names and pa.types.is_integer(t.schema.field(name).type))
    return bounds


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in ``schema``'s columns: numbers cast (exactly: the schema allows only exact casts), other
    kinds written as text by :func:`_text`, missing columns null."""
    if table.schema.equals(schema):
        return table
    names = set(table.column_names)   # (column_names builds a new list on every call)
    columns = []
    for f in schema:
        if f.name in names:
            col = table.column(f.name)
            if col.type == f.type:
                columns.append(col)
            elif pa.types.is_string(f.type):
                columns.append(_text(col.to_pylist()))
            else:
                columns.append(pc.cast(col, f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def unify_tables(tables: Sequence[pa.Table]) -> pa.Table:
    """Tables of result rows (parts) as one table, their columns unified by :func:`_unified_schema`: what
    reading a folder, a run's closing part and compaction all do, so a value reads back the same whichever
    part it was written in."""
    first = tables[0].schema
    if all(t.schema.equals(first) for t in tables[1:]):
        return pa.concat_tables(tables)
    schema = _unified_schema([t.schema for t in tables], _table_int_bounds(tables))
    return pa.concat_tables([_conform(t, schema) for t in tables])


#: one finished point as the store buffers it: (point_id, params, status, error, metrics)
Record = tuple[str, Mapping[str, Any], str, str | None, Mapping[str, Any]]


def records_to_table(records: Sequence[Record]) -> pa.Table:
    """Buffered points to a table, column by column: the table :func:`rows_to_table` gives for their rows
    (``point_id``, the params, ``status``, ``error``, the metrics). When every point has the same params and
    metric names (a sweep's usual case) the columns come straight from the records, with no row dicts."""
    first = records[0]
    pkeys, mkeys = list(first[1]), list(first[4])
    uniform = all(list(p) == pkeys and list(m) == mkeys for _, p, _, _, m in records)
    names = ["point_id", *pkeys, "status", "error", *mkeys]
    if not uniform or len(set(names)) != len(names):   # names repeat only if metrics echo a field: as rows
        return rows_to_table([{"point_id": pid, **p, "status": st, "error": err, **m}
                              for pid, p, st, err, m in records])
    # each group of columns transposed straight from the dicts' value views (no row tuples built)
    columns = [[r[0] for r in records], *zip(*[r[1].values() for r in records]), [r[2] for r in records],
               [r[3] for r in records], *zip(*[r[4].values() for r in records])]
    return pa.table([_array(c) for c in columns], names=names)


def rows_to_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts with possibly different keys) to a table; a column of mixed kinds becomes text."""
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    arrays = []
    for name in names:
        values = [r.get(name) for r in rows]
        arrays.append(_array(values))
    return pa.table(arrays, names=list(names))


def _array(values: Sequence[Any]) -> pa.Array:
    """One column of a part: Arrow's kind for the values (integers and floats together make floats, when
    exact), or text when the kinds clash."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return _text(values)
    if array.type == _FLOAT and bool in set(map(type, values)):   # Arrow reads True after a float as 1.0
        return _text(values)
    return array


_FLOAT = pa.float64()


def _text(values: Iterable[Any]) -> pa.Array:
    """Values of clashing kinds as a text column, each as Python's ``str`` writes it (``True``, ``1.5``,
    ``9007199254740993``): the one spelling, in a part and where parts of different kinds meet."""
    return pa.array([v if v is None or type(v) is str else str(v) for v in values], type=pa.string())


def _read_parts(out: Path, columns: Callable[[str], bool] | None = None) -> pa.Table | None:
    def wanted(path: Path) -> list[str] | None:
        if columns is None:
            return None
        try:
            names = pq.read_schema(path).names
        except (OSError, pa.ArrowException, ValueError):
            return None  # _load_part names the damage
        return [c for c in names if c == "point_id" or columns(c)]

    tables = [t for t in (_load_part(p, wanted(p)) for p in _part_files(out)) if t is not None]
    if not tables:
        return None
    return unify_tables(tables)


def _load_part(path: Path, columns: Sequence[str] | None = None) -> pa.Table | None:
    """One part, or None (with a one-line warning naming it) when it is damaged or not ours."""
    problem = part_problem(path)
    if problem is not None:
        log.warning("skipping damaged result part %s (%s); --resume evaluates its points again", path, problem)
        return None
    return read_part(path, columns)


def part_problem(path: Path) -> str | None:
    """Why a part cannot be read as a result part (None when it can): unreadable, or not ours."""
    try:
        schema = pq.read_schema(path)
        pq.ParquetFile(path).metadata  # noqa: B018 (the footer must parse too)
    except (OSError, pa.ArrowException, ValueError) as exc:
        return " ".join(str(exc).split())[:120] or type(exc).__name__
    missing = [c for c in ("point_id", "status") if c not in schema.names]
    if missing:
        return f"no {missing[0]} column: not an imcsim result part"
    return None


def quarantine_damaged(out: Path) -> list[Path]:
    """Move damaged or foreign parts to ``results/damaged/`` (the caller holds the lock); each is
    named in a one-line warning. Nothing is deleted: the file can still be inspected."""
    moved = []
    for p in _part_files(out):
        problem = part_problem(p)
        if problem is None:
            try:  # the footer can be fine and the data not: read it once to be sure
                pq.read_table(p, columns=["point_id", "status"])
                continue
            except (OSError, pa.ArrowException, ValueError) as exc:
                problem = " ".join(str(exc).split())[:120] or type(exc).__name__
        target = out / RESULTS / DAMAGED / p.name
        target.parent.mkdir(exist_ok=True)
        os.replace(p, target)
        log.warning("moved damaged result part %s to %s (%s); its points will be evaluated again", p, target,
                    problem)
        moved.append(target)
    return moved


def _empty_frame(fields: Sequence[str]):
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype="object") for c in ["point_id", *fields, "status", "error"]})


def _stored_status(out: Path) -> dict[str, str]:
    """point_id -> latest stored status, reading only those two columns (small, even for big sweeps)."""
    status: dict[str, str] = {}
    for p in _part_files(out):
        try:
            t = read_part(p, ["point_id", "status"])
            ids, states = t.column("point_id"), t.column("status")   # (KeyError: a part that is not ours)
        except (OSError, pa.ArrowException, ValueError, KeyError):
            continue  # a damaged part stores nothing (quarantine_damaged moves it aside)
        status.update(zip(ids.to_pylist(), states.to_pylist()))
    return status


def _count_planned(status: Mapping[str, str], points: Sequence[Point]) -> int:
    return sum(1 for p in points if p.id in status)


# ---------------------------------------------------------------------- files


def _part_files(out: Path) -> list[Path]:
    folder = out / RESULTS
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _PART.match(p.name)), key=_seq_of)


def _seq_of(path: Path) -> int:
    m = _PART.match(path.name)
    return int(m.group(1)) if m else -1


def _remove_temporaries(out: Path) -> None:
    """Half-written parts of a killed run (they never got their final name)."""
    for p in (out / RESULTS).glob(".part-*.parquet.tmp"):
        p.unlink(missing_ok=True)


def clear_store(out: str | Path) -> None:
    """Delete a sweep's own files from a folder (``--force``; the caller holds the lock)."""
    _clear(Path(out))


def _clear(out: Path) -> None:
    for p in _part_files(out):
        p.unlink()
    if (out / RESULTS).is_dir():
        _remove_temporaries(out)
    for name in (PLAN, MANIFEST):
        (out / name).unlink(missing_ok=True)


def _write_plan(out: Path, points: Sequence[Point]) -> None:
    table = pa.table({"point": pa.array([p.index for p in points], pa.int64()),
                      "point_id": pa.array([p.id for p in points], pa.string())})
    tmp = out / f".{PLAN}.tmp"
    pq.write_table(table, tmp, **PART_WRITE)   # (unique ids: a dictionary page is waste)
    os.replace(tmp, out / PLAN)


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_manifest(out: Path, damaged_ok: bool = False) -> dict[str, Any] | None:
    """The manifest, checked field by field; a damaged one is a one-line SpecError (or None when
    ``damaged_ok``: ``--force`` replaces it)."""
    path = out / MANIFEST
    if not path.exists():
        raise SpecError(str(out), None, problem="is not a sweep output folder (no sweep.json)")
    try:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(str(path), None, problem=f"cannot be read ({exc.__class__.__name__})",
                            allowed="a sweep.json written by imcsim sweep (--force replaces it)") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SpecError(str(path), "format", data.get("format") if isinstance(data, dict) else None,
                            problem="not an imcsim sweep manifest:", allowed=FORMAT)
        version = data.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise SpecError(str(path), "version", version, problem="bad value", allowed="an integer")
        if version > VERSION:
            raise SpecError(str(path), "version", version, problem="written by a newer imcsim:",
                            allowed=f"version <= {VERSION}")
        for key, kind in (("fields", list), ("runs", list), ("n_points", int)):
            if key in data and data[key] is not None and not isinstance(data[key], kind):
                raise SpecError(str(path), key, data[key], problem="bad value",
                                allowed=f"a {kind.__name__} (the file is damaged; --force replaces it)")
    except SpecError:
        if damaged_ok:
            log.warning("%s is damaged; --force replaces it", path)
            return None
        raise
    return data
