"""imcsim/memo.IdentityMemo: one build per (owners by identity, extra by value), least recently used out."""

from __future__ import annotations

from imcsim.memo import IdentityMemo


def test_builds_once_per_owner_identity_and_extra():
    memo: IdentityMemo[int] = IdentityMemo(8)
    calls = []
    a, b = [1], [1]          # equal but distinct owners
    build = lambda: calls.append(1) or len(calls)   # noqa: E731
    assert memo.get((a,), (2,), build) == 1
    assert memo.get((a,), (2,), build) == 1          # hit
    assert memo.get((b,), (2,), build) == 2          # another object, though equal
    assert memo.get((a,), (3,), build) == 3          # another extra value
    assert len(calls) == 3 and len(memo) == 3


def test_least_recently_used_goes_first():
    memo: IdentityMemo[str] = IdentityMemo(2)
    x, y, z = object(), object(), object()
    memo.get((x,), (), lambda: "x")
    memo.get((y,), (), lambda: "y")
    memo.get((x,), (), lambda: "rebuilt")            # x is now the most recent
    memo.get((z,), (), lambda: "z")                  # evicts y
    assert len(memo) == 2
    assert memo.get((x,), (), lambda: "rebuilt") == "x"
    assert memo.get((y,), (), lambda: "y again") == "y again"
