"""splice_many (one-pass insertion) equals successive splice() calls, and the priced-step cache is exact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.workload.graph import Node
from imcsim.workload.methods._insert import add_node, splice, splice_many


def _graph(n: int, reads: list[list[int]]) -> list[Node]:
    """Node i reads the graph input and/or any earlier nodes named in reads[i] (a DAG in node order)."""
    nodes = []
    for i in range(n):
        ins = tuple(f"n{j}" for j in sorted(set(reads[i])) if j < i) or ("input",)
        nodes.append(Node(f"n{i}", "act", ins, (4,), (4,)))
    return nodes


@st.composite
def _case(draw):
    n = draw(st.integers(1, 25))
    reads = [draw(st.lists(st.integers(0, max(0, i - 1)), max_size=3)) for i in range(n)]
    anchors = sorted(draw(st.sets(st.integers(0, n - 1), max_size=n)))
    return n, reads, anchors


@settings(max_examples=200, deadline=None)
@given(_case())
def test_splice_many_equals_successive_splices(case):
    n, reads, anchors = case
    nodes = _graph(n, reads)
    insertions = {}
    expected = list(nodes)
    for a in anchors:
        anchor = f"n{a}"
        # an adapter reads the anchor's input and the anchor, like a LoRA branch plus its add
        branch = Node(f"{anchor}.A", "linear", nodes[a].inputs[:1], (4,), (4,))
        add = add_node(f"{anchor}.add", (anchor, branch.name), (4,), None)
        insertions[anchor] = ([branch, add], add.name)
        expected = splice(expected, anchor, [branch, add], anchor, add.name)
    assert splice_many(nodes, insertions) == expected


def test_splice_many_rejects_unknown_and_out_of_order_anchors():
    nodes = _graph(3, [[], [0], [1]])
    new = [add_node("x", ("n0",), (4,), None)]
    with pytest.raises(KeyError, match="nope"):
        splice_many(nodes, {"nope": (new, "x")})
    with pytest.raises(ValueError, match="node order"):
        splice_many(nodes, {"n2": (new, "x"), "n0": (new, "x")})


def test_priced_step_cache_returns_equal_results_and_distinguishes_studies():
    from imcsim.config.study import study_from_params
    from imcsim.engine import evaluate
    from imcsim.engine.evaluation import _PRICED

    base = {"workload": "tiny-cnn", "method": "full", "device": "reram", "write_policy": "diff"}
    _PRICED.clear()
    first = evaluate(study_from_params(base)).summary()
    assert len(_PRICED) == 1
    again = evaluate(study_from_params(base)).summary()
    assert len(_PRICED) == 1          # a lookup, not a second pricing
    assert again == first
    other = evaluate(study_from_params({**base, "flip_prob": 0.1})).summary()
    assert len(_PRICED) == 2
    # a lower flip probability writes fewer cells: a stale cache entry would give the same energy
    assert other["write_energy_pj"] < first["write_energy_pj"]
