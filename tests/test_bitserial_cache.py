"""Numba's cache follows edits to the LLVM blocks (imcsim.circuit.bitserial.cachekey): a kernel module
and a codegen module are written to a temporary package, compiled, the codegen edited, and the
kernels imported again as a new process would. The keyed kernel recompiles and returns the new value;
an unkeyed twin returns the stale one (what happened before: the check can fail)."""

import importlib
import os
import sys

GEN = """\
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def answer(typingctx):
    def codegen(context, builder, signature, args):
        return ir.Constant(ir.IntType(64), {value})
    return types.int64(), codegen
"""

KERNELS = """\
from pathlib import Path

from numba import njit

from {pkg} import gen
from {pkg}.gen import answer
from imcsim.circuit.bitserial.cachekey import key_on


@njit(cache=True)
def keyed():
    return answer()


@njit(cache=True)
def plain():
    return answer()


KEYED = key_on((keyed,), Path(gen.__file__))
"""


def _import_fresh(pkg):
    for name in [m for m in sys.modules if m == pkg or m.startswith(pkg + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return importlib.import_module(f"{pkg}.kernels")


def test_an_edit_to_the_codegen_module_recompiles_the_kernels(tmp_path, monkeypatch):
    from imcsim.circuit.bitserial.cachekey import cached

    pkg = f"cachekey_probe_{os.getpid()}"
    root = tmp_path / pkg
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "kernels.py").write_text(KERNELS.format(pkg=pkg))
    (root / "gen.py").write_text(GEN.format(value=1))
    monkeypatch.syspath_prepend(str(tmp_path))

    k = _import_fresh(pkg)
    assert k.KEYED and not cached(k.keyed)
    assert (k.keyed(), k.plain()) == (1, 1)
    assert cached(k.keyed) and cached(k.plain)

    k = _import_fresh(pkg)  # no edit: both come from the disk cache
    assert (k.keyed(), k.plain()) == (1, 1)
    assert sum(k.keyed.stats.cache_hits.values()) == 1 and sum(k.plain.stats.cache_hits.values()) == 1

    gen = root / "gen.py"
    gen.write_text(GEN.format(value=1000))
    os.utime(gen, ns=(gen.stat().st_mtime_ns + 10**9,) * 2)  # Python re-reads it even on a coarse clock
    k = _import_fresh(pkg)
    assert not cached(k.keyed) and cached(k.plain)
    assert k.keyed() == 1000   # recompiled from the edited blocks
    assert k.plain() == 1      # Numba's own key: the stale code


def test_the_bitserial_kernels_are_keyed_on_codegen():
    from imcsim.circuit.bitserial import kernels

    assert kernels.KEYED_ON_CODEGEN
    assert all(isinstance(k._cache._cache_file._source_stamp, tuple) for k in kernels.KERNELS)
