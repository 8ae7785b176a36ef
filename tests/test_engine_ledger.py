"""Ledger: totals, the flat summary, written files, and the trace formats."""

import csv
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.engine.ledger import COMPONENTS, OpRecord, Result, WriteSummary
from imcsim.engine.schedule import Stage, simulate
from imcsim.engine.trace import write_trace
from imcsim.errors import SpecError


def _result():
    ops = [
        OpRecord("a:fwd", "a", "forward", "mvm", "macros:a", 2, 10.0, {"cell_read": 3.0, "adder_tree": 1.0}, macs=5),
        OpRecord("a:upd", "a", "update", "write", "macros:a", 1, 4.0, {"write": 6.0}, weights_written=7),
    ]
    energy = {"cell_read": 3.0, "adder_tree": 1.0, "write": 6.0}
    return Result({"device": "sram", "rows": 8}, "analytic", 2.0, 24.0, energy, ops,
                  WriteSummary(weights_written=7, energy_pj=6.0, lifetime_years=math.inf),
                  {"cells": 1.5e6, "periphery": 0.5e6}, {"macros_used": 3, "fits": True})


def test_summary_totals_and_shares():
    s = _result().summary()
    # energy 3 + 1 + 6 = 10 pJ; latency 24 cycles x 2 ns = 48 ns; write share 6 / 10
    assert s["energy_pj"] == 10.0 and s["latency_ns"] == 48.0 and s["edp_pj_ns"] == 480.0
    assert s["write_energy_share"] == pytest.approx(0.6)
    assert s["area_mm2"] == pytest.approx(2.0)
    assert s["macs"] == 10 and s["map_macros_used"] == 3
    assert all(f"energy_{c}_pj" in s for c in COMPONENTS)
    assert sum(s[f"energy_{c}_pj"] for c in COMPONENTS) == s["energy_pj"]


def test_written_files(tmp_path):
    paths = _result().write(tmp_path)
    assert [p.name for p in paths] == ["summary.csv", "layers.csv", "ledger.json"]
    rows = list(csv.DictReader(paths[1].open()))
    assert [r["op"] for r in rows] == ["a:fwd", "a:upd"] and float(rows[1]["energy_write_pj"]) == 6.0
    ledger = json.loads(paths[2].read_text())
    assert ledger["writes"]["lifetime_years"] == "inf"  # JSON has no infinity
    assert [p["phase"] for p in ledger["phases"]] == ["forward", "update"]


def test_trace_formats(tmp_path):
    tl = simulate([Stage("x", "macros:x", 3), Stage("y", "digital", 2)], 2, {"macros:x", "digital"})
    chrome = json.loads(write_trace(tl, tmp_path / "t.json", cycle_ns=2.0).read_text())
    spans = [e for e in chrome["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == 4 and {e["name"] for e in spans} == {"x", "y"}
    # sample 1 waits for sample 0 on macros:x: it starts at cycle 3 = 6 ns = 0.006 us
    assert sorted(e["ts"] for e in spans if e["name"] == "x") == [0.0, 0.006]
    rows = list(csv.DictReader(write_trace(tl, tmp_path / "t.csv", 2.0).open()))
    assert len(rows) == 4 and float(rows[-1]["end_ns"]) == tl.cycles * 2.0
    with pytest.raises(SpecError, match="unknown trace format"):
        write_trace(tl, tmp_path / "t.txt", 2.0)


def test_adding_records_to_a_table_is_what_rebuilding_it_gives():
    # OpTable + records appends column by column; it must equal rebuilding from all the records: each op
    # lists its order's non-zero components first, then any other non-zero column (an unlisted column is
    # kept, not dropped: the table's sums count it), zeros and -0.0 left out
    import numpy as np

    from imcsim.engine.ledger import COMPONENT_INDEX, OpTable

    energy = np.zeros((2, len(COMPONENTS)))
    energy[0, COMPONENT_INDEX["digital_unit"]] = 1.5
    energy[0, COMPONENT_INDEX["noc"]] = 7.0          # not listed in the op's order
    energy[1, COMPONENT_INDEX["buffer"]] = -0.0
    energy[1, COMPONENT_INDEX["dram"]] = 2.25
    orders = [(COMPONENT_INDEX["digital_unit"], COMPONENT_INDEX["buffer"]),
              (COMPONENT_INDEX["buffer"], COMPONENT_INDEX["dram"])]
    table = OpTable(["a", "b"], ["n", "n"], ["forward"] * 2, ["vector", "buffer"], ["digital", "dram"], [2, 1],
                    [3.0, 4.5], energy, [0, 0], [0, 0], [0, 0], orders, bases=["assumed", ""])
    assert list(table[0].energy_pj.items()) == [("digital_unit", 1.5), ("noc", 7.0)]
    assert list(table[1].energy_pj.items()) == [("dram", 2.25)]
    extra = [OpRecord("c", "act", "forward", "buffer", "dram", 1, 0.0, {"dram": 9.0, "buffer": 0.5})]
    got, want = table + extra, OpTable.from_records(list(table) + extra)
    for column in ("names", "nodes", "phases", "kinds", "resources", "executions", "cycles", "macs",
                   "weights_written", "macros", "bases"):
        assert getattr(got, column) == getattr(want, column), column
    assert got.energy_pj.tolist() == want.energy_pj.tolist() and got.energy_pj[0, COMPONENT_INDEX["noc"]] == 7.0
    assert got.energy_by_component() == want.energy_by_component()
    # the records' energies add up to the table's sums (1.5 + 7.0 + 2.25 + 9.0 + 0.5 = 20.25)
    assert sum(r.total_energy_pj for r in got) == sum(got.energy_by_component().values()) == 20.25
    assert list(got) == list(want)


def test_sums_of_a_table_with_an_appended_op_equal_the_rebuilt_tables():
    # OpTable + [op] takes the MACs, reload figures, busy cycles, wake-ups and group bases from the head when the
    # op adds nothing to them (the staged-activations op), else sums anew; both equal a table rebuilt from records
    from imcsim.engine.ledger import OpTable

    ops = [OpRecord("conv", "conv", "forward", "mvm", "macros:conv", 2, 10.0, {"cell_read": 1.0}, macs=100,
                    macros=3, basis="assumed"),
           OpRecord("conv:reload:forward", "conv", "reload", "write", "macros:pool", 1, 7.5,
                    {"write": 2.0, "dram": 0.5}, weights_written=9, macros=3, basis="assumed"),
           OpRecord("upd", "conv", "update", "write", "macros:conv", 1, 4.0, {"write": 3.0}, basis="measured")]
    head = OpTable.from_records(ops)
    staged = OpRecord("activations:staged", "activations", "forward", "buffer", "dram", 1, 0.0, {"dram": 9.0})
    mvm = OpRecord("fc", "fc", "forward", "mvm", "macros:fc", 2, 5.0, {"cell_read": 4.0}, macs=50, macros=1,
                   basis="measured")
    for extra, carried in (([staged], True), ([mvm], False)):
        got, want = head + extra, OpTable.from_records(ops + extra)
        assert (got._head is head) == carried
        assert got.totals() == want.totals() and got.macro_busy_cycles() == want.macro_busy_cycles()
        assert got.macro_wakeups() == want.macro_wakeups() and got.group_bases() == want.group_bases()
        assert got.energy_by_component() == want.energy_by_component()
    # by hand: MACs 100 x 2 (+ 50 x 2 with the MVM); busy 10 x 2 x 3 = 60 (+ 5 x 2 x 1 = 10); reload 7.5 cycles
    assert (head + [staged]).totals() == (200, 7.5, 2.0, 0.5) and (head + [mvm]).totals()[0] == 300
    assert (head + [staged]).macro_busy_cycles() == 60.0 and (head + [mvm]).macro_busy_cycles() == 70.0
    assert (head + [mvm]).group_bases()["activity"] == "partly measured"


def _loop_sums(table):
    """The table's sums as the loops over its columns they replace: sum() one op after the other."""
    from imcsim.engine.ledger import basis_group, combine_bases

    cols = table.energy_pj.T.tolist()
    energy = {c: sum(cols[i], 0.0) for i, c in enumerate(COMPONENTS)}
    n = len(table)
    mvm = [i for i in range(n) if table.kinds[i] == "mvm"]
    reload = [i for i in range(n) if table.phases[i] == "reload"]
    totals = (sum(m * e for m, e in zip(table.macs, table.executions)),
              sum((table.cycles[i] * table.executions[i] for i in reload), 0.0),
              sum((float(table.energy_pj[i, COMPONENTS.index("write")]) for i in reload), 0.0),
              sum((float(table.energy_pj[i, COMPONENTS.index("dram")]) for i in reload), 0.0))
    seen = {"activity": set(), "update_writes": set(), "reload_writes": set()}
    for b, p, k in zip(table.bases, table.phases, table.kinds):
        g = basis_group(b, p, k)
        if g is not None:
            seen[g].add(b)
    return (energy, totals, sum((table.cycles[i] * table.executions[i] * table.macros[i] for i in mvm), 0),
            float(sum(table.macros[i] for i in mvm)), {g: combine_bases(b) for g, b in seen.items()})


def _typed(x):
    if isinstance(x, dict):
        return {k: _typed(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return tuple(_typed(v) for v in x)
    if isinstance(x, str):
        return x
    return (type(x), math.copysign(1.0, x) if isinstance(x, float) and x == 0 else None, x if x == x else "nan")


_ENERGY = st.one_of(st.sampled_from([0.0, -0.0, 1e-300, 1e300, math.inf, 0.1, 1e16, 1.0]),
                    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.floats(allow_nan=True))


@settings(max_examples=120, deadline=None)
@given(data=st.data(), n=st.integers(0, 12))
def test_table_sums_equal_the_loops_over_its_ops_to_the_last_bit(data, n):
    # the sums (numpy's sequential column sums, the per-shape memos of the columns two points share) equal
    # the plain loops, value, type and sign of zero; two tables sharing their shape columns (as two geometries
    # of one step do) with their own energies, cycles and macros each get their own sums
    import numpy as np

    from imcsim.engine.ledger import OpTable

    kinds = data.draw(st.lists(st.sampled_from(["mvm", "write", "vector", "buffer"]), min_size=n, max_size=n))
    phases = data.draw(st.lists(st.sampled_from(["forward", "update", "reload"]), min_size=n, max_size=n))
    bases = data.draw(st.lists(st.sampled_from(["", "assumed", "measured", "partly measured"]), min_size=n,
                               max_size=n))
    macs = data.draw(st.lists(st.integers(0, 2**40), min_size=n, max_size=n))
    executions = data.draw(st.lists(st.integers(1, 2**20), min_size=n, max_size=n))
    names = [f"op{i}" for i in range(n)]
    shape = (names, names, phases, kinds, ["r"] * n, executions)
    for _ in range(2):
        energy = np.array(data.draw(st.lists(st.lists(_ENERGY, min_size=len(COMPONENTS), max_size=len(COMPONENTS)),
                                             min_size=n, max_size=n)), dtype=float).reshape(n, len(COMPONENTS))
        cycles = data.draw(st.lists(st.one_of(st.integers(0, 10**6), st.floats(0, 1e9)), min_size=n, max_size=n))
        macros = data.draw(st.lists(st.integers(0, 4096), min_size=n, max_size=n))
        table = OpTable(*shape, cycles, energy, macs, [0] * n, macros, [()] * n, bases=bases)
        got = (table.energy_by_component(), table.totals(), table.macro_busy_cycles(), table.macro_wakeups(),
               table.group_bases())
        assert _typed(got) == _typed(_loop_sums(table))


_TAIL = st.builds(OpRecord, name=st.just("t"), node=st.just("t"), phase=st.sampled_from(["forward", "reload"]),
                  kind=st.sampled_from(["buffer", "mvm"]), resource=st.just("dram"), executions=st.integers(1, 9),
                  cycles_per_execution=st.floats(0, 1e6),
                  energy_pj=st.dictionaries(st.sampled_from(COMPONENTS), _ENERGY, max_size=3),
                  macs=st.sampled_from([0, 0, 7]), macros=st.integers(0, 3), basis=st.sampled_from(["", "", "assumed"]))


@settings(max_examples=120, deadline=None)
@given(data=st.data(), n=st.integers(0, 10), tail=st.lists(_TAIL, min_size=1, max_size=3))
def test_a_table_with_records_appended_equals_the_rebuilt_table(data, n, tail):
    # head + records (columns built on first use; sums carried from the head or continued over the tail) gives the
    # sums of the table rebuilt from every record, to the last bit, and the same columns once they are built; a
    # sweep's appended op (no MACs, no MVM, no reload, no data) is summed without building them
    import numpy as np

    from imcsim.engine.ledger import OpTable

    kinds = data.draw(st.lists(st.sampled_from(["mvm", "write", "vector"]), min_size=n, max_size=n))
    phases = data.draw(st.lists(st.sampled_from(["forward", "update", "reload"]), min_size=n, max_size=n))
    bases = data.draw(st.lists(st.sampled_from(["", "assumed", "measured"]), min_size=n, max_size=n))
    energy = np.array(data.draw(st.lists(st.lists(_ENERGY, min_size=len(COMPONENTS), max_size=len(COMPONENTS)),
                                         min_size=n, max_size=n)), dtype=float).reshape(n, len(COMPONENTS))
    cycles = data.draw(st.lists(st.floats(0, 1e9), min_size=n, max_size=n))
    names = [f"op{i}" for i in range(n)]
    head = OpTable(names, names, phases, kinds, ["r"] * n, [2] * n, cycles, energy, list(range(n)), [0] * n,
                   [1] * n, [tuple(range(len(COMPONENTS)))] * n, bases=bases)
    got = head + tail
    # the table as concatenating the head's and the tail's columns builds it (what + did before it was lazy)
    t = OpTable.from_records(tail)
    want = OpTable(*(getattr(head, c) + getattr(t, c) for c in ("names", "nodes", "phases", "kinds", "resources",
                                                                  "executions", "cycles")),
                   np.vstack([head.energy_pj, t.energy_pj]),
                   *(getattr(head, c) + getattr(t, c) for c in ("macs", "weights_written", "macros", "orders")),
                   bases=head.bases + t.bases)
    quiet = all(not r.macs and r.kind != "mvm" and r.phase != "reload" and not r.basis for r in tail)
    sums = (got.energy_by_component(), got.totals(), got.macro_busy_cycles(), got.macro_wakeups(), got.group_bases())
    assert len(got) == len(want) == n + len(tail)
    assert ("_pending" in got.__dict__ and got.__dict__["_pending"] is not None) == quiet   # columns not built
    assert _typed(sums) == _typed(_loop_sums(want))
    assert got.energy_pj.tobytes() == want.energy_pj.tobytes() and got.orders == want.orders
    assert [_typed(vars(r)) for r in got] == [_typed(vars(r)) for r in want]
    assert [r.name for r in got] == [r.name for r in OpTable.from_records(list(head) + tail)]
