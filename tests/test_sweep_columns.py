"""The store's column-wise parts and the runner's bulk metric check equal their row-by-row forms exactly."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.sweep.runner import _clean_each, clean_many, clean_metrics, one_line_error
from imcsim.sweep.store import (
    _conform,
    _table_int_bounds,
    _unified_schema,
    records_to_table,
    rows_to_table,
    unify_tables,
)

NAMES = st.sampled_from(["a", "b", "energy_pj", "rows", "device", "status", "point", "x y"])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                   st.text(max_size=3), st.sampled_from([np.float64(1.5), np.int64(3), np.bool_(True)]),
                   st.just([1]))
PLAIN = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                  st.text(max_size=3))


def _ipc(table: pa.Table) -> bytes:
    """A table's exact bytes (schema, types, values, NaN and nulls included)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _outcome(fn, result, params):
    try:
        out = fn(result, params)
    except ValueError as exc:
        return "error", str(exc)
    return "ok", repr(out), [type(v) for v in out.values()]


@settings(max_examples=300, deadline=None)
@given(result=st.dictionaries(NAMES, VALUES, max_size=6), params=st.dictionaries(NAMES, PLAIN, max_size=3),
       echo=st.booleans())
def test_the_bulk_metric_check_equals_the_check_per_metric(result, params, echo):
    if echo:   # a metric that repeats a field's own value (dropped), as the engine's results do
        result.update({k: v for k, v in params.items() if k not in ("status", "point")})
    assert _outcome(clean_metrics, result, params) == _outcome(_clean_each, result, params)


@st.composite
def batch_results(draw):
    """A chunk's params and batch results: mostly the first result's metric names (and some echoes of the
    fields), with now and then other names, an exception or a result that is not a dict."""
    fields = draw(st.dictionaries(NAMES, PLAIN, max_size=3))
    names = draw(st.lists(NAMES, unique=True, max_size=5))
    chunk, results = [], []
    for _ in range(draw(st.integers(1, 5))):
        params = {k: draw(PLAIN) for k in fields} if draw(st.booleans()) else dict(fields)
        kind = draw(st.sampled_from(["same", "same", "same", "other", "error", "list"]))
        if kind == "same":
            result = {k: draw(VALUES) for k in names}
            result.update({k: v for k, v in params.items() if k in result and draw(st.booleans())})  # echoes
        elif kind == "other":
            result = draw(st.dictionaries(NAMES, VALUES, max_size=6))
        else:
            result = RuntimeError("no such layer") if kind == "error" else [1]
        chunk.append(params)
        results.append(result)
    return chunk, results


@settings(max_examples=300, deadline=None)
@given(batch=batch_results())
def test_a_chunk_is_checked_as_each_point_alone(batch):
    chunk, results = batch

    def alone(result, params):   # what the runner did for each point of a batch before clean_many
        if isinstance(result, BaseException):
            return "error", one_line_error(result)
        try:
            metrics = clean_metrics(result, params)
        except ValueError as exc:
            return "error", one_line_error(exc)
        return "ok", repr(metrics), [type(v) for v in metrics.values()]

    got = [("error", e) if s == "error" else ("ok", repr(m), [type(v) for v in m.values()])
           for s, e, m in clean_many(results, chunk)]
    assert got == [alone(r, p) for r, p in zip(results, chunk)]


RECORD_KEYS = st.sampled_from([("rows", "cols"), ("rows",), ("cols", "rows")])
METRIC_KEYS = st.sampled_from([("energy_pj", "n"), ("energy_pj",), ("n", "energy_pj", "rows"), ()])


#: integers a float column holds exactly (a part with a larger one beside a float part cannot be cast: noted)
SMALL = st.one_of(st.none(), st.booleans(), st.integers(-2**53, 2**53), st.floats(allow_nan=True), st.text(max_size=3))


@st.composite
def records(draw, values=PLAIN):
    out = []
    for i in range(draw(st.integers(1, 6))):
        pkeys, mkeys = draw(RECORD_KEYS), draw(METRIC_KEYS)
        status = draw(st.sampled_from(["ok", "error"]))
        out.append((f"p{i}", {k: draw(values) for k in pkeys}, status,
                    None if status == "ok" else draw(st.text(max_size=4)), {k: draw(values) for k in mkeys}))
    if draw(st.booleans()):   # the common case: every record with the first one's names
        _, p0, _, _, m0 = out[0]
        out = [(pid, {k: draw(values) for k in p0}, s, e, {k: draw(values) for k in m0}) for pid, _, s, e, _ in out]
    return out


@settings(max_examples=300, deadline=None)
@given(recs=records())
def test_parts_built_by_column_equal_parts_built_from_rows(recs):
    rows = []
    for pid, params, status, error, metrics in recs:   # the row the store used to build for each point
        row = {"point_id": pid}
        row.update(params)
        row["status"] = status
        row["error"] = error
        row.update(metrics)
        rows.append(row)
    assert _ipc(records_to_table(recs)) == _ipc(rows_to_table(rows))


@settings(max_examples=100, deadline=None)
@given(a=records(SMALL), b=records(SMALL))
def test_conform_keeps_a_matching_table_and_fills_the_others(a, b):
    ta, tb = records_to_table(a), records_to_table(b)
    schema = _unified_schema([ta.schema, tb.schema], _table_int_bounds([ta, tb]))
    for t in (ta, tb):
        got = _conform(t, schema)
        assert got.schema.equals(schema)
        for f in schema:   # each column: the table's own (cast to the unified kind, text as str() writes it) or nulls
            if f.name not in t.column_names:
                want = pa.nulls(t.num_rows, f.type)
            elif pa.types.is_string(f.type) and not pa.types.is_string(t.column(f.name).type):
                want = pa.array([None if v is None else str(v) for v in t.column(f.name).to_pylist()], pa.string())
            else:
                want = pc.cast(t.column(f.name), f.type).combine_chunks()
            assert _ipc(pa.table({f.name: got.column(f.name).combine_chunks()})) == _ipc(pa.table({f.name: want}))


#: one kind of value per column of a part (a part whose column mixes integers and floats holds floats: a later
#: part of text then spells them 1.0, where one part holding all of them would say 1; see docs/sweep.md)
KINDS = [st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.text(max_size=3),
         st.sampled_from(["True", "true", "False", "1", "1.0"])]


@st.composite
def parts_of_one_kind(draw):
    """Records of one sweep split into 1-3 parts, each column of each part holding one kind of value."""
    pkeys, mkeys = draw(RECORD_KEYS), draw(METRIC_KEYS)
    parts, n = [], 0
    for _ in range(draw(st.integers(1, 3))):
        kinds = {k: draw(st.sampled_from(KINDS)) for k in (*pkeys, *mkeys)}
        part = []
        for _ in range(draw(st.integers(1, 4))):
            part.append((f"p{n}", {k: draw(kinds[k]) for k in pkeys}, "ok", None, {k: draw(kinds[k]) for k in mkeys}))
            n += 1
        parts.append(part)
    return parts


@settings(max_examples=300, deadline=None)
@given(parts=parts_of_one_kind())
def test_rows_read_the_same_whichever_part_they_were_written_in(parts):
    # the rule of one part (Arrow's kind for its values, text as str() writes it when kinds clash) is the rule
    # where parts meet: integers beyond 2**53 beside floats, booleans beside "True", numbers beside text
    one = records_to_table([r for part in parts for r in part])
    split = unify_tables([records_to_table(part) for part in parts]).combine_chunks()
    assert _ipc(split) == _ipc(one)
