"""LLVM IR for the inner kernel of the bit-serial GEMM: the bit-plane gather and the popcount blocks.

Why a module of its own: these are Numba intrinsics (code generation), not Numba functions; the loops
that call them are in :mod:`imcsim.circuit.bitserial.kernels`. The layout and the identity they
compute are described in :mod:`imcsim.circuit.bitserial`.

Numba keys its on-disk cache on the file of the ``@njit`` function (``kernels.py``); ``kernels.py`` adds
this file's hash to that key (:mod:`imcsim.circuit.bitserial.cachekey`), so an edit here recompiles them.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_I64 = ir.IntType(64)
_I32 = ir.IntType(32)


# ---------------------------------------------------------------------------------------- LLVM parts
def _splat(builder, value, vty):
    """Broadcast a scalar into every lane of vector type ``vty``."""
    undef = ir.Constant(vty, ir.Undefined)
    one = builder.insert_element(undef, value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(_I32, vty.count), [0] * vty.count))


def _as_i64(context, builder, val, ty):
    return context.cast(builder, val, ty, types.int64)


@intrinsic
def bitplane(typingctx, arr, off, bit):
    """Word whose bit p is bit ``bit`` of ``arr[off + p]`` (p < 64): one VPTESTMB on 64 bytes."""
    sig = types.uint64(arr, off, bit)

    def codegen(context, builder, signature, args):
        a = context.make_array(signature.args[0])(context, builder, args[0])
        off_ = _as_i64(context, builder, args[1], signature.args[1])
        bit_ = _as_i64(context, builder, args[2], signature.args[2])
        vty = ir.VectorType(ir.IntType(8), 64)
        ptr = builder.bitcast(builder.gep(a.data, [off_]), vty.as_pointer())
        v = builder.load(ptr, align=1)
        mask = builder.trunc(builder.shl(ir.Constant(_I64, 1), bit_), ir.IntType(8))
        hit = builder.icmp_unsigned("!=", builder.and_(v, _splat(builder, mask, vty)), ir.Constant(vty, [0] * 64))
        return builder.bitcast(hit, _I64)

    return sig, codegen


def make_block(n_slots: int, n_vec: int):
    """Intrinsic ``blk(out, oo, w, wbase, jstride, w_bits, wo, x, xo, nk, sl, neg, wneg)``: 8 n_vec outputs.

    For the 8 n_vec output channels t after ``wbase`` (weight plane j, word k of channel t at
    ``w[wo[k] + wbase + j jstride + t]``; input slot s, word k at ``x[xo[k] + s]``) it stores

        out[oo + t] = sum_{j < w_bits} s_w(j) 2^j ( sum_{s < n_slots - 1} 2^s A_js[t]  +/-  2^sl A_j,top[t] )

    with A_js[t] = sum_{k < nk} popcount(x_s,k AND w_j,k,t), the top input slot negative when ``neg``
    and the top weight plane when ``wneg``. The k loop is innermost; the A_js of one j live in
    n_slots x n_vec vector registers and are folded into the running sum after each j.
    """
    vty = ir.VectorType(_I64, 8)

    @intrinsic
    def blk(typingctx, out, oo, w, wbase, jstride, w_bits, wo, x, xo, nk, sl, neg, wneg):
        sig = types.void(out, oo, w, wbase, jstride, w_bits, wo, x, xo, nk, sl, neg, wneg)

        def codegen(context, builder, signature, args):
            ta = signature.args
            a_out = context.make_array(ta[0])(context, builder, args[0])
            a_w = context.make_array(ta[2])(context, builder, args[2])
            a_wo = context.make_array(ta[6])(context, builder, args[6])
            a_x = context.make_array(ta[7])(context, builder, args[7])
            a_xo = context.make_array(ta[8])(context, builder, args[8])
            oo_, wbase_, jstride_, wbits_, nk_, sl_, neg_, wneg_ = (
                _as_i64(context, builder, args[i], ta[i]) for i in (1, 3, 4, 5, 9, 10, 11, 12))
            ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]), "llvm.ctpop.v8i64")
            zero = ir.Constant(vty, [0] * 8)
            accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(n_slots)] for _ in range(n_vec)]
            tots = [cgutils.alloca_once_value(builder, zero) for _ in range(n_vec)]
            slv = _splat(builder, sl_, vty)
            negv = _splat(builder, builder.sub(ir.Constant(_I64, 0), neg_), vty)  # all ones when negative
            last_j = builder.sub(wbits_, ir.Constant(_I64, 1))
            for v in range(n_vec):
                builder.store(zero, tots[v])
            with cgutils.for_range(builder, wbits_) as jloop:
                j = jloop.index
                for v in range(n_vec):
                    for s in range(n_slots):
                        builder.store(zero, accs[v][s])
                wj = builder.add(wbase_, builder.mul(j, jstride_))
                with cgutils.for_range(builder, nk_) as loop:
                    k = loop.index
                    wp = builder.gep(a_w.data, [builder.add(builder.load(builder.gep(a_wo.data, [k])), wj)])
                    xo_k = builder.load(builder.gep(a_xo.data, [k]))
                    xs = [_splat(builder, builder.load(builder.gep(a_x.data, [builder.add(xo_k, ir.Constant(_I64, s))])),
                                 vty) for s in range(n_slots)]
                    for v in range(n_vec):
                        wv = builder.load(builder.bitcast(builder.gep(wp, [ir.Constant(_I64, 8 * v)]),
                                                          vty.as_pointer()), align=8)
                        for s in range(n_slots):
                            cnt = builder.call(ctpop, [builder.and_(wv, xs[s])])
                            builder.store(builder.add(builder.load(accs[v][s]), cnt), accs[v][s])
                # the weight sign: all ones for the top plane of signed weights
                wm = builder.sub(ir.Constant(_I64, 0), builder.and_(wneg_, builder.zext(
                    builder.icmp_signed("==", j, last_j), _I64)))
                wmv = _splat(builder, wm, vty)
                jv = _splat(builder, j, vty)
                for v in range(n_vec):
                    val = zero
                    for s in range(n_slots - 1):
                        val = builder.add(val, builder.shl(builder.load(accs[v][s]), ir.Constant(vty, [s] * 8)))
                    top = builder.shl(builder.load(accs[v][n_slots - 1]), slv)
                    val = builder.add(val, builder.sub(builder.xor(top, negv), negv))   # (top ^ m) - m = -top
                    val = builder.sub(builder.xor(builder.shl(val, jv), wmv), wmv)
                    builder.store(builder.add(builder.load(tots[v]), val), tots[v])
            for v in range(n_vec):
                dst = builder.gep(a_out.data, [builder.add(oo_, ir.Constant(_I64, 8 * v))])
                builder.store(builder.load(tots[v]), builder.bitcast(dst, vty.as_pointer()), align=8)
            return context.get_dummy_value()

        return sig, codegen

    return blk


def make_block88(x_neg: bool, w_neg: bool):
    """Intrinsic ``blk(out, oo, w, wbase, jstride, wo, x, xo, nk)``: :func:`make_block` for 8-bit
    inputs and 8-bit weights, signs fixed at compile time, 8 output channels.

    Every popcount of (input plane s, weight plane j) goes straight into the accumulator of its
    diagonal d = s + j (subtracted when exactly one of the two is a sign plane), 15 registers; the
    only per-output work left is ``sum_d 2^d D_d``.
    """
    vty = ir.VectorType(_I64, 8)

    @intrinsic
    def blk(typingctx, out, oo, w, wbase, jstride, wo, x, xo, nk):
        sig = types.void(out, oo, w, wbase, jstride, wo, x, xo, nk)

        def codegen(context, builder, signature, args):
            ta = signature.args
            a_out = context.make_array(ta[0])(context, builder, args[0])
            a_w = context.make_array(ta[2])(context, builder, args[2])
            a_wo = context.make_array(ta[5])(context, builder, args[5])
            a_x = context.make_array(ta[6])(context, builder, args[6])
            a_xo = context.make_array(ta[7])(context, builder, args[7])
            oo_, wbase_, jstride_, nk_ = (_as_i64(context, builder, args[i], ta[i]) for i in (1, 3, 4, 8))
            ctpop = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]), "llvm.ctpop.v8i64")
            zero = ir.Constant(vty, [0] * 8)
            diag = [cgutils.alloca_once_value(builder, zero) for _ in range(15)]
            joff = [builder.mul(jstride_, ir.Constant(_I64, j)) for j in range(8)]
            with cgutils.for_range(builder, nk_) as loop:
                k = loop.index
                wp = builder.gep(a_w.data, [builder.add(builder.load(builder.gep(a_wo.data, [k])), wbase_)])
                xo_k = builder.load(builder.gep(a_xo.data, [k]))
                xs = [_splat(builder, builder.load(builder.gep(a_x.data, [builder.add(xo_k, ir.Constant(_I64, i))])),
                             vty) for i in range(8)]
                for j in range(8):
                    wv = builder.load(builder.bitcast(builder.gep(wp, [joff[j]]), vty.as_pointer()), align=8)
                    for i in range(8):
                        cnt = builder.call(ctpop, [builder.and_(wv, xs[i])])
                        d = diag[i + j]
                        if (x_neg and i == 7) != (w_neg and j == 7):
                            builder.store(builder.sub(builder.load(d), cnt), d)
                        else:
                            builder.store(builder.add(builder.load(d), cnt), d)
            tot = builder.load(diag[0])
            for dd in range(1, 15):
                tot = builder.add(tot, builder.shl(builder.load(diag[dd]), ir.Constant(vty, [dd] * 8)))
            builder.store(tot, builder.bitcast(builder.gep(a_out.data, [oo_]), vty.as_pointer()), align=8)
            return context.get_dummy_value()

        return sig, codegen

    return blk


blk88_ss = make_block88(True, True)
blk88_us = make_block88(False, True)
blk88_su = make_block88(True, False)
blk88_uu = make_block88(False, False)


#: (input slots, 8-lane vectors per block): 8-bit inputs use 8 slots x 2 vectors (16 accumulators),
#: inputs of at most 4 bits 4 slots x 4 vectors. Unused slots hold zero words; the top plane always
#: sits in the last slot.
WIDE = (8, 2)
NARROW = (4, 4)
blk_wide = make_block(*WIDE)
blk_narrow = make_block(*NARROW)


def slots_for(in_bits: int) -> tuple[int, int]:
    return WIDE if in_bits > 4 else NARROW

