"""The result store: streaming parts, reading back in plan order, and never losing a folder's contents."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from sweep_helpers import FIELD_TYPES, analytic

from imcsim.errors import SpecError
from imcsim.sweep.spec import spec_from_flags
from imcsim.sweep.store import LOCK, ResultStore, compact, read_manifest, read_results


def _points(rows="64,128,256", device="sas-mram,reram"):
    spec = spec_from_flags({"device": device, "rows": rows, "cols": "64"}, FIELD_TYPES)
    return spec, spec.expand()


def _open(out, spec, points, **kw):
    return ResultStore.open(out, points, fields=spec.fields, spec=spec.to_dict(), **kw)


def _fill(store, points, status="ok"):
    for p in points:
        store.add(p, status, None if status == "ok" else "ValueError: bad", analytic(p.params) if status == "ok" else {})


def _snapshot(folder):
    """Every file under ``folder`` with its bytes and modification time: 'untouched' means equal snapshots."""
    snap = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                snap[os.path.relpath(path, folder)] = (fh.read(), os.stat(path).st_mtime_ns)
    return snap


def _parts(out):
    return sorted(p.name for p in (out / "results").glob("part-*.parquet"))


def test_rows_stream_to_disk_in_small_batches(tmp_path):
    spec, points = _points()
    store = _open(tmp_path / "s", spec, points, flush_every=2, flush_seconds=1e9)
    store.add(points[0], "ok", None, analytic(points[0].params))
    assert _parts(tmp_path / "s") == []                   # one row buffered
    store.add(points[1], "ok", None, analytic(points[1].params))
    assert _parts(tmp_path / "s") == ["part-000000.parquet"]   # batch of 2 written while still open
    assert len(read_results(tmp_path / "s")) == 2               # readable before close
    store.add(points[2], "ok", None, analytic(points[2].params))
    assert store.rows_written == 2                               # the buffer never exceeds the batch
    store.close({"note": "test"}, complete=False)
    # the run's parts and its last row, 3 rows in all (<= MERGE_ROWS), go out again as one part on close
    assert store.rows_written == 3 and _parts(tmp_path / "s") == ["part-000001.parquet"]
    assert len(read_results(tmp_path / "s")) == 3


def test_read_back_in_plan_order_with_fields_status_and_metrics(tmp_path):
    spec, points = _points()
    store = _open(tmp_path, spec, points, flush_every=1)
    for p in reversed(points):                                   # finish order != plan order
        store.add(p, "ok", None, analytic(p.params))
    store.close({}, complete=True)
    df = read_results(tmp_path)
    assert list(df.columns[:7]) == ["point", "point_id", "cols", "device", "rows", "status", "error"]
    assert df["point"].tolist() == list(range(6))
    assert df["point_id"].tolist() == [p.id for p in points]
    assert df[["device", "rows"]].values.tolist() == [[p.params["device"], p.params["rows"]] for p in points]
    # sas-mram, 64 x 64: 64*64*2.0 fJ / 1000 / 3 = 2.7307 pJ (the helper's made-up model)
    assert df.loc[0, "energy_pj"] == pytest.approx(64 * 64 * 2.0 / 1000 / 3)
    manifest = read_manifest(tmp_path)
    assert manifest["format"] == "imcsim-sweep" and manifest["n_points"] == 6
    assert manifest["fields"] == ["cols", "device", "rows"]
    assert manifest["spec"]["axes"] == {"device": ["sas-mram", "reram"], "rows": [64, 128, 256]}
    assert manifest["finished"] is not None and manifest["runs"] == [{}]


def test_same_sweep_without_resume_is_refused_and_nothing_changes(tmp_path):
    spec, points = _points()
    store = _open(tmp_path, spec, points)
    _fill(store, points[:4])
    store.close({}, complete=False)
    (tmp_path / "report.html").write_text("<html>someone's report</html>")
    before = _snapshot(tmp_path)
    with pytest.raises(SpecError) as err:
        _open(tmp_path, spec, points)
    assert str(err.value) == (
        f"{tmp_path}: sweep.json: already holds this sweep (4 of 6 points stored); allowed: --resume to finish "
        "it, --force to delete the stored results and start over, or another output folder")
    assert _snapshot(tmp_path) == before


def test_different_sweep_without_resume_or_force_is_refused_and_nothing_changes(tmp_path):
    spec, points = _points()
    store = _open(tmp_path, spec, points)
    _fill(store, points)
    store.close({}, complete=True)
    before = _snapshot(tmp_path)
    other_spec, other = _points(rows="512")
    with pytest.raises(SpecError) as err:
        _open(tmp_path, other_spec, other)
    assert str(err.value).startswith(
        f"{tmp_path}: sweep.json: holds a different sweep (6 points over cols, device, rows; this one has 2 points); "
        "allowed: another output folder, --resume to keep its results")
    assert "--force to delete its stored results" in str(err.value)
    assert _snapshot(tmp_path) == before
    assert len(read_results(tmp_path)) == 6


def test_force_deletes_only_the_stored_results(tmp_path):
    spec, points = _points()
    store = _open(tmp_path, spec, points)
    _fill(store, points)
    store.close({}, complete=True)
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "energy.png").write_bytes(b"png")
    other_spec, other = _points(rows="512")
    store = _open(tmp_path, other_spec, other, force=True)
    assert store.cleared == 6
    _fill(store, other)
    store.close({}, complete=True)
    df = read_results(tmp_path, all_rows=True)
    assert df["rows"].tolist() == [512, 512]                       # the old 6 rows are gone
    assert read_manifest(tmp_path)["runs"] == [{}]                 # history restarts
    assert (tmp_path / "plots" / "energy.png").read_bytes() == b"png"   # not ours: kept


def test_resume_with_a_changed_spec_reuses_shared_points(tmp_path):
    spec, points = _points(rows="64,128")
    store = _open(tmp_path, spec, points)
    _fill(store, points)
    store.close({"run": 1}, complete=True)
    new_spec, new_points = _points(rows="128,256")
    store = _open(tmp_path, new_spec, new_points, resume=True)
    shared = {p.id for p in new_points if p.params["rows"] == 128}
    assert set(store.stored_status) == {p.id for p in points}
    assert shared <= set(store.stored_status)
    _fill(store, [p for p in new_points if p.id not in shared])
    store.close({"run": 2}, complete=True)
    df = read_results(tmp_path)
    assert df["point_id"].tolist() == [p.id for p in new_points]    # the current plan, in its order
    everything = read_results(tmp_path, all_rows=True)
    assert len(everything) == 6 and everything["point"].isna().sum() == 2   # rows=64 kept, outside the plan
    assert [r["run"] for r in read_manifest(tmp_path)["runs"]] == [1, 2]


def test_a_later_row_replaces_an_earlier_one_and_compaction_keeps_the_table(tmp_path, monkeypatch):
    import imcsim.sweep.store as store_module

    monkeypatch.setattr(store_module, "MERGE_ROWS", 0)   # each run's parts stay as written: 6 + 2
    spec, points = _points()
    store = _open(tmp_path, spec, points, flush_every=1)
    _fill(store, points, status="error")
    store.close({}, complete=True)
    store = _open(tmp_path, spec, points, resume=True, flush_every=1)
    _fill(store, points[:2])                                      # retried: now ok
    store.close({}, complete=True)
    df = read_results(tmp_path)
    assert df["status"].tolist() == ["ok", "ok", "error", "error", "error", "error"]
    assert len(_parts(tmp_path)) == 8
    assert compact(tmp_path) == 8
    assert len(_parts(tmp_path)) == 1
    pd.testing.assert_frame_equal(read_results(tmp_path), df)


def test_parts_with_different_columns_and_kinds_read_as_one_table(tmp_path):
    spec, points = _points()
    store = _open(tmp_path, spec, points, flush_every=1)
    store.add(points[0], "ok", None, {"energy_pj": 1, "note": "a"})
    store.add(points[1], "ok", None, {"energy_pj": 2.5, "note": 3.0})      # int -> float; text vs number
    store.add(points[2], "error", "ValueError: x", {})
    store.add(points[3], "ok", None, {"extra_ns": 7})
    store.close({}, complete=False)
    df = read_results(tmp_path)
    assert df["energy_pj"].tolist()[:2] == [1.0, 2.5]
    assert df["note"].tolist()[:2] == ["a", "3.0"]   # a kind clash becomes text, as str() writes it (also in a part)
    assert df["energy_pj"].isna().tolist()[2:] == [True, True]
    assert df.loc[3, "extra_ns"] == 7 and df["error"].tolist()[2] == "ValueError: x"


def test_non_sweep_folders_and_bad_paths(tmp_path):
    spec, points = _points()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SpecError, match="output path exists and is not a folder"):
        _open(tmp_path / "afile", spec, points)
    foreign = tmp_path / "foreign"
    (foreign / "results").mkdir(parents=True)
    (foreign / "results" / "part-000000.parquet").write_bytes(b"not ours")
    before = _snapshot(foreign)
    with pytest.raises(SpecError, match="holds result parts but no sweep.json; not touching it"):
        _open(foreign, spec, points, force=True)
    assert _snapshot(foreign) == before
    with pytest.raises(SpecError, match=r"is not a sweep output folder \(no sweep.json\)"):
        read_results(tmp_path)
    (tmp_path / "sweep.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(SpecError, match="sweep.json: format: not an imcsim sweep manifest: 'something-else'"):
        read_results(tmp_path)
    bad_spec = spec_from_flags({"rows": "64,128"}, {"rows": int, "status": str})
    with pytest.raises(SpecError, match="status: field name is reserved"):
        ResultStore.open(tmp_path / "new", bad_spec.expand(), fields=["rows", "status"])
    assert not (tmp_path / "new").exists()


def test_a_folder_with_other_files_is_fine_and_they_are_kept(tmp_path):
    spec, points = _points()
    (tmp_path / "notes.txt").write_text("mine")
    store = _open(tmp_path, spec, points)
    _fill(store, points)
    store.close({}, complete=True)
    assert (tmp_path / "notes.txt").read_text() == "mine" and len(read_results(tmp_path)) == 6


def test_leftover_temporary_part_is_ignored_and_removed(tmp_path):
    spec, points = _points()
    store = _open(tmp_path, spec, points, flush_every=1)
    _fill(store, points[:2])
    store.close({}, complete=False)
    tmp_part = tmp_path / "results" / ".part-000002.parquet.tmp"
    tmp_part.write_bytes(b"half a parquet file from a killed run")
    assert len(read_results(tmp_path)) == 2
    store = _open(tmp_path, spec, points, resume=True)
    assert not tmp_part.exists()
    store.close({}, complete=False)


def test_one_writer_per_folder(tmp_path):
    spec, points = _points()
    store = _open(tmp_path, spec, points)
    store.close({}, complete=False)
    # a live process holds the lock: refused, and the lock file is left alone
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        (tmp_path / LOCK).write_text(str(holder.pid))
        with pytest.raises(SpecError, match=rf"another imcsim run or sweep is writing into this folder, pid {holder.pid}"):
            _open(tmp_path, spec, points, resume=True)
        with pytest.raises(SpecError, match="another imcsim run or sweep is writing"):
            compact(tmp_path)
        assert (tmp_path / LOCK).read_text() == str(holder.pid)
    finally:
        holder.communicate(b"")
    # the holder is gone: its stale lock is taken over, and released on close
    store = _open(tmp_path, spec, points, resume=True)
    assert (tmp_path / LOCK).read_text() == str(os.getpid())
    store.close({}, complete=False)
    assert not (tmp_path / LOCK).exists()


def test_read_results_reads_only_the_columns_asked_for(tmp_path, monkeypatch):
    # imcsim report reads a sweep with report.load.reads_column: the mapping figures and area components it
    # never shows stay in the Parquet files (pyarrow reads the asked columns only)
    import imcsim.sweep.store as store_module
    from imcsim.report.load import reads_column

    spec, points = _points()
    store = _open(tmp_path, spec, points, flush_every=2)
    for p in points:
        store.add(p, "ok", None, {**analytic(p.params), "map_fits": True, "map_policy": "first-fit",
                                   "area_macro_cells_um2": 1.0})
    store.close({}, complete=True)
    asked: list = []
    real = store_module.read_part
    monkeypatch.setattr(store_module, "read_part", lambda path, columns=None: asked.append(columns) or
                        real(path, columns))
    df = read_results(tmp_path, columns=reads_column)
    assert {"map_fits", "energy_pj", "area_mm2", "rows", "status", "error"} <= set(df.columns)
    assert not {"map_policy", "area_macro_cells_um2"} & set(df.columns)
    part_reads = [c for c in asked if c is not None and "map_fits" in c]
    assert part_reads and all("map_policy" not in c and "area_macro_cells_um2" not in c for c in part_reads)
    assert set(read_results(tmp_path).columns) - set(df.columns) == {"map_policy", "area_macro_cells_um2"}


def test_compaction_reading_parts_whole_or_ids_first_writes_the_same_parts(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    import imcsim.sweep.store as store_module

    monkeypatch.setattr(store_module, "MERGE_ROWS", 0)   # the run's parts stay as written, for compaction
    spec, points = _points()
    folders = []
    for whole_rows in (10_000, 0):   # the small-store path (each part read once) and the streaming one
        monkeypatch.setattr(store_module, "COMPACT_READ_WHOLE_ROWS", whole_rows)
        out = tmp_path / f"w{whole_rows}"
        store = _open(out, spec, points, flush_every=2)
        _fill(store, points, status="error")
        store.add(points[0], "ok", None, {"energy_pj": 1, "note": "a"})   # a retried point, a new column
        store.close({}, complete=True)
        before = read_results(out)
        assert compact(out) == 4 and len(_parts(out)) == 1
        pd.testing.assert_frame_equal(read_results(out), before)
        folders.append(out)
    a, b = (pq.read_table(next((f / "results").glob("part-*.parquet"))) for f in folders)
    assert a.schema == b.schema and a.to_pylist() == b.to_pylist()


@pytest.mark.parametrize("group_rows, groups", [(4, [4, 2]), (1, [1] * 6)])
def test_compaction_writes_row_groups_of_the_size_set_not_one_per_part(tmp_path, monkeypatch, group_rows, groups):
    # a row group per merged part made compaction's writing 2.5x dearer and every later read pay per group
    import pyarrow.parquet as pq

    import imcsim.sweep.store as store_module

    monkeypatch.setattr(store_module, "MERGE_ROWS", 0)   # a part per point stays a part per point
    monkeypatch.setattr(store_module, "COMPACT_ROW_GROUP_ROWS", group_rows)
    spec, points = _points()
    store = _open(tmp_path, spec, points, flush_every=1)
    _fill(store, points)
    store.close({}, complete=True)
    before = read_results(tmp_path)
    assert compact(tmp_path) == 6
    meta = pq.ParquetFile(tmp_path / "results" / _parts(tmp_path)[0]).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == groups
    pd.testing.assert_frame_equal(read_results(tmp_path), before)


def test_a_short_run_rewrites_its_early_first_part_with_the_rest_as_one_part(tmp_path, monkeypatch):
    import imcsim.sweep.store as store_module

    monkeypatch.setattr(store_module, "FIRST_FLUSH_ROWS", 4)
    spec, points = _points(rows="32,64,128,256,512", device="sas-mram,reram,sram")   # 15 points
    store = _open(tmp_path / "s", spec, points, flush_every=100, flush_seconds=1e9)
    _fill(store, points[:5])
    assert _parts(tmp_path / "s") == ["part-000000.parquet"]       # the early part, on disk while running
    _fill(store, points[5:])
    store.close({}, complete=True)
    assert _parts(tmp_path / "s") == ["part-000001.parquet"]       # one part: nothing left to compact
    df = read_results(tmp_path / "s")
    assert df["point_id"].tolist() == [p.id for p in points] and store.rows_written == 15
    assert df["energy_pj"].tolist() == [analytic(p.params)["energy_pj"] for p in points]


@pytest.mark.parametrize("merge_rows, parts", [(15, ["part-000003.parquet"]),
                                               (8, [f"part-00000{i}.parquet" for i in range(4)])])
def test_a_run_merges_its_parts_on_close_while_they_are_small(tmp_path, monkeypatch, merge_rows, parts):
    import imcsim.sweep.store as store_module

    monkeypatch.setattr(store_module, "FIRST_FLUSH_ROWS", 4)
    monkeypatch.setattr(store_module, "MERGE_ROWS", merge_rows)
    spec, points = _points(rows="32,64,128,256,512", device="sas-mram,reram,sram")   # 15 points
    store = _open(tmp_path / "s", spec, points, flush_every=5, flush_seconds=1e9)
    _fill(store, points)   # parts of 4, 5, 5 rows while running, 1 row left for the close
    assert _parts(tmp_path / "s") == [f"part-00000{i}.parquet" for i in range(3)]
    store.close({}, complete=True)
    # 15 rows <= 15: one part; 15 > 8: the parts stay as written (4 + 5 + 5 + 1), compaction merges them
    assert _parts(tmp_path / "s") == parts and store.single_part == (len(parts) == 1)
    df = read_results(tmp_path / "s")
    assert df["point_id"].tolist() == [p.id for p in points] and store.rows_written == 15
    assert df["energy_pj"].tolist() == [analytic(p.params)["energy_pj"] for p in points]



@pytest.mark.parametrize("whole_rows", [10_000, 0], ids=["read-whole", "ids-first"])
def test_kinds_that_clash_across_parts_read_as_they_do_in_one_part(tmp_path, monkeypatch, whole_rows):
    # an integer beyond 2**53 beside floats was a traceback (ArrowInvalid: no exact float) once parts met, and a
    # boolean read "True" in its own part but "true" where parts met (Arrow's cast): now both are text, as str()
    import imcsim.sweep.store as store_module

    monkeypatch.setattr(store_module, "COMPACT_READ_WHOLE_ROWS", whole_rows)
    monkeypatch.setattr(store_module, "MERGE_ROWS", 0, raising=False)   # a part per point stays a part per point
    spec, points = _points()
    big = 2**53 + 1   # 9007199254740993: no float64 holds it
    values = [(big, True), (1.5, "True"), (2, "true"), (None, False)]
    tables = {}
    for flush in (1, 100):   # a part per point; one part
        out = tmp_path / f"f{flush}"
        store = _open(out, spec, points, flush_every=flush, flush_seconds=1e9)
        for p, (n, b) in zip(points, values):
            store.add(p, "ok", None, {"n": n, "b": b})
        store.close({}, complete=False)
        tables[flush] = read_results(out)[["n", "b"]]
        compact(out)
        pd.testing.assert_frame_equal(read_results(out)[["n", "b"]], tables[flush])
    assert tables[1]["n"].tolist()[:3] == ["9007199254740993", "1.5", "2"] and tables[1]["n"].isna()[3]  # lossless
    assert tables[1]["b"].tolist() == ["True", "True", "true", "False"]
    pd.testing.assert_frame_equal(tables[1], tables[100])


def test_integers_and_floats_across_parts_make_floats_when_exact(tmp_path):
    spec, points = _points()
    store = _open(tmp_path, spec, points, flush_every=1, flush_seconds=1e9)
    for p, n in zip(points, [2**53, 1.5, -2**53, 7]):
        store.add(p, "ok", None, {"n": n})
    store.close({}, complete=False)
    df = read_results(tmp_path)
    assert df["n"].dtype == "float64" and df["n"].tolist()[:4] == [2.0**53, 1.5, -2.0**53, 7.0]
