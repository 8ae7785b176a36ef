"""The physical limit of a bit-serial kernel on this CPU: AND + vector popcount + add throughput.

A bit-serial INT8 x INT8 MAC needs 8 x 8 = 64 bit-plane products; one 64-bit word AND-popcount covers
64 of them (one bit pair of 64 different MACs), so one word AND-popcount-accumulate is one INT8 MAC.
``ideal_mac_per_s`` runs the same instruction mix as the kernel's inner block (an 8 x 64-bit vector
AND, ``llvm.ctpop.v8i64`` and an add into one of 8 independent accumulators, operands in L1 cache)
and nothing else, so its rate bounds what any bit-serial kernel built on that popcount reaches on one
core. It is a measured limit, not a datasheet one.
"""

from __future__ import annotations

import time

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_I64 = ir.IntType(64)
_VTY = ir.VectorType(_I64, 8)
_N_ACC = 8   # independent accumulators: enough to hide the popcount latency


@intrinsic
def _popsum(typingctx, w, x, nk, reps):
    """sum over reps, k < nk, v < _N_ACC of popcount(w[(k _N_ACC + v) 8 : +8] AND splat(x[k]))."""
    sig = types.int64(w, x, nk, reps)

    def codegen(context, builder, signature, args):
        a_w = context.make_array(signature.args[0])(context, builder, args[0])
        a_x = context.make_array(signature.args[1])(context, builder, args[1])
        nk_, reps_ = args[2], args[3]
        ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VTY, [_VTY]), "llvm.ctpop.v8i64")
        zero = ir.Constant(_VTY, [0] * 8)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(_N_ACC)]
        with cgutils.for_range(builder, reps_):
            with cgutils.for_range(builder, nk_) as loop:
                k = loop.index
                xv = builder.load(builder.gep(a_x.data, [k]))
                xs = builder.insert_element(ir.Constant(_VTY, ir.Undefined), xv, ir.Constant(ir.IntType(32), 0))
                xs = builder.shuffle_vector(xs, ir.Constant(_VTY, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8))
                base = builder.mul(k, ir.Constant(_I64, 8 * _N_ACC))
                for v in range(_N_ACC):
                    p = builder.gep(a_w.data, [builder.add(base, ir.Constant(_I64, 8 * v))])
                    wv = builder.load(builder.bitcast(p, _VTY.as_pointer()), align=8)
                    cnt = builder.call(ctpop, [builder.and_(wv, xs)])
                    builder.store(builder.add(builder.load(accs[v]), cnt), accs[v])
        tot = zero
        for v in range(_N_ACC):
            tot = builder.add(tot, builder.load(accs[v]))
        s = builder.extract_element(tot, ir.Constant(ir.IntType(32), 0))
        for i in range(1, 8):
            s = builder.add(s, builder.extract_element(tot, ir.Constant(ir.IntType(32), i)))
        return s

    return sig, codegen


@njit(cache=True)
def _run(w, x, nk, reps):
    return _popsum(w, x, nk, reps)


def ideal_mac_per_s(repeat: int = 5, nk: int = 48, reps: int = 200_000) -> dict[str, float]:
    """Best-of-``repeat`` single-thread INT8 MAC/s of the bare AND-popcount-add loop (CPU time)."""
    rng = np.random.default_rng(0)
    w = rng.integers(0, 2**63, size=nk * _N_ACC * 8, dtype=np.uint64).view(np.int64)   # 24 KiB: L1-resident
    x = rng.integers(0, 2**63, size=nk, dtype=np.uint64).view(np.int64)
    _run(w, x, nk, 1)   # compile (or load from cache)
    expect = sum(int(np.bitwise_count(w.view(np.uint64)[(k * _N_ACC + v) * 8:(k * _N_ACC + v + 1) * 8]
                                      & x.view(np.uint64)[k]).sum()) for k in range(nk) for v in range(_N_ACC))
    if _run(w, x, nk, 1) != expect:   # the loop must compute what it claims, or its rate means nothing
        raise RuntimeError("popcount probe returned a wrong sum")
    words = nk * _N_ACC * 8 * reps
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        _run(w, x, nk, reps)
        best = min(best, time.thread_time() - t0)
    return {"ideal_gmac_per_s_1thread": words / best / 1e9, "probe": "AND + llvm.ctpop.v8i64 + add, 8 accumulators, L1"}
