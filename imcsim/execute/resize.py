"""Upsampling of feature maps: nearest and bilinear, on integer codes, in float, and backwards.

Rep-Net's branches end in a bilinear upsample (``F.upsample(..., mode="bilinear")`` in the official code,
whose default since PyTorch 0.4 is ``align_corners=False``) [P5]. Its sampling rule, per axis, from
``n_in`` to ``n_out`` samples: output ``d`` reads the input at ``src = (d + 1/2) n_in / n_out - 1/2``,
clamped at 0, between ``i0 = floor(src)`` and ``i1 = min(i0 + 1, n_in - 1)`` with weights ``1 - l`` and
``l = src - i0``. In integers: ``2 n_out src = (2d + 1) n_in - n_out``, so every weight is an integer
over ``D = 2 n_out`` (:func:`bilinear_taps`); an output is a sum of four integer products over
``D_h D_w``.

- **Codes** (:func:`upsample_codes`): the output keeps the input's scale and zero point (the weights of
  a row sum to ``D``, so the zero point passes through), ``(sum(w q) + D_h D_w / 2) // (D_h D_w)``:
  integer products, one add tree and a rounding division (a shift when ``D_h D_w`` is a power of two,
  as for every x2 upsample); no clamp is needed (a convex combination of codes stays in range).
- **Float** (:func:`upsample_float`): the same weights divided by ``D``, for the fp32 reference.
- **Backward** (:func:`upsample_backward`): the adjoint, the same integer weights transposed over the
  same denominator (digital-unit work on the dequantised error, as the other non-array ops).

Nearest upsampling repeats each sample ``n_out / n_in`` times (integer factors only).
"""

from __future__ import annotations

import numpy as np

from imcsim.workload.graph import Node

MODES = ("nearest", "bilinear")


def bilinear_taps(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) int64 weights of one axis, each row summing to ``2 n_out`` (half-pixel centres)."""
    den = 2 * n_out
    taps = np.zeros((n_out, n_in), np.int64)
    for d in range(n_out):
        num = max((2 * d + 1) * n_in - n_out, 0)
        i0, rem = divmod(num, den)
        i0 = min(i0, n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        taps[d, i0] += den - rem
        taps[d, i1] += rem
    return taps


def _factors(node: Node) -> tuple[int, int]:
    return node.out_shape[1] // node.in_shape[1], node.out_shape[2] // node.in_shape[2]


def _taps(node: Node) -> tuple[np.ndarray, np.ndarray]:
    (_, h, w), (_, ho, wo) = node.in_shape, node.out_shape
    return bilinear_taps(h, ho), bilinear_taps(w, wo)


def upsample_codes(node: Node, q: np.ndarray) -> np.ndarray:
    """Integer codes (B, C, H, W) -> (B, C, Ho, Wo) at the same scale and zero point."""
    if node.attrs.get("mode") == "bilinear":
        th, tw = _taps(node)
        den = int(th.sum(axis=1)[0] * tw.sum(axis=1)[0])
        s = th @ np.asarray(q, np.int64) @ tw.T
        return (s + den // 2) // den
    fh, fw = _factors(node)
    return q.repeat(fh, axis=2).repeat(fw, axis=3)


def upsample_float(node: Node, x: np.ndarray) -> np.ndarray:
    """The float forward (fp32 reference and calibration)."""
    if node.attrs.get("mode") == "bilinear":
        th, tw = _taps(node)
        den = float(th.sum(axis=1)[0] * tw.sum(axis=1)[0])
        return th.astype(np.float64) @ x @ tw.T.astype(np.float64) / den
    fh, fw = _factors(node)
    return x.repeat(fh, axis=2).repeat(fw, axis=3)


def upsample_backward(node: Node, e: np.ndarray) -> np.ndarray:
    """Error of the input from the error of the output: the adjoint of :func:`upsample_float`."""
    if node.attrs.get("mode") == "bilinear":
        th, tw = _taps(node)
        den = float(th.sum(axis=1)[0] * tw.sum(axis=1)[0])
        return th.T.astype(np.float64) @ e @ tw.astype(np.float64) / den
    fh, fw = _factors(node)
    b, c, h, w = e.shape[0], e.shape[1], node.in_shape[1], node.in_shape[2]
    return e.reshape(b, c, h, fh, w, fw).sum(axis=(3, 5))
