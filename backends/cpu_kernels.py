"""Compiled (Numba) row-wise ops of the CPU backend: LayerNorm, GELU, cross-entropy, AdamW and
the embedding, each one fused loop with its rows spread over Numba's thread pool by ``prange``.

Why compiled: in NumPy each of these is 5-10 passes over memory, one ufunc call each, and
splitting them across Python threads stopped paying off at ~4 threads because every call takes
the GIL. Here each op is one pass and the threads never wait on the GIL. (GEMMs: ``cpu_gemm``;
attention: ``cpu_attention``.)

Conventions: all arrays float32 and C-contiguous; row-major activations (N = B*T rows). Kernels
write into caller-provided outputs, so the backend owns every allocation. Float32 arithmetic
throughout, except cross-entropy's per-row loss (float64, like the reference).

``fast_exp`` is a float32 exp that LLVM can vectorise (libm's ``expf`` is scalar and was the
largest cost of GELU and softmax); its relative error is below 4e-7 (a few float32 ulp).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from backends import model

# Reassociation and contraction let LLVM vectorise reductions and use FMA; no 'nnan'/'ninf', so
# infinities (an empty softmax max starts at -inf) keep their IEEE meaning.
# (JIT, PARALLEL and the float32 constants below serve cpu_attention and cpu_gemm too.)
_FM = {"reassoc", "contract", "arcp", "nsz", "afn"}
JIT = {"fastmath": _FM, "cache": True, "nogil": True, "error_model": "numpy"}
PARALLEL = {**JIT, "parallel": True}

F0 = np.float32(0.0)
F1 = np.float32(1.0)
NEG_INF = np.float32(-np.inf)
# exp: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact n ln2), then
# e^r = 1 + r + r^2 P(r) (Cephes' expf polynomial) and 2^n from the exponent bits.
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_P0 = np.float32(1.9875691500e-4)
_P1 = np.float32(1.3981999507e-3)
_P2 = np.float32(8.3334519073e-3)
_P3 = np.float32(4.1665795894e-2)
_P4 = np.float32(1.6666665459e-1)
_P5 = np.float32(5.0000001201e-1)
_EXP_LO = np.float32(-87.0)  # below: 0 (e^-87 is near the smallest normal float32)
_EXP_HI = np.float32(88.0)

GELU_C = np.float32(model.GELU_C)
GELU_A = np.float32(model.GELU_A)


@intrinsic
def _float_from_bits(typingctx, bits):  # noqa: ARG001 - numba's intrinsic signature
    """Reinterpret the low 32 bits of an integer as a float32 (a cast LLVM vectorises)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], ir.IntType(32)) if bits.bitwidth > 32 else args[0]
        return builder.bitcast(low, ir.FloatType())

    return types.float32(bits), codegen


@njit(inline="always", **JIT)
def fast_exp(x):
    """float32 e^x, vectorisable; 0 below -87 and e^88 above 88 (softmax never goes there)."""
    xc = min(max(x, _EXP_LO), _EXP_HI)
    n = np.floor(xc * _LOG2E + np.float32(0.5))
    r = xc - n * _LN2_HI
    r = r - n * _LN2_LO
    p = _P0
    p = p * r + _P1
    p = p * r + _P2
    p = p * r + _P3
    p = p * r + _P4
    p = p * r + _P5
    er = p * (r * r) + r + F1
    scaled = er * _float_from_bits((np.int32(n) + 127) << 23)
    return scaled if x >= _EXP_LO else F0


@njit(**PARALLEL)
def exp_array(x, out):
    """``fast_exp`` elementwise (for tests and anyone wanting the vectorised exp)."""
    flat_x = x.reshape(-1)
    flat_o = out.reshape(-1)
    for i in prange(flat_x.size):
        flat_o[i] = fast_exp(flat_x[i])


# ---------------------------------------------------------------------------------- LayerNorm
@njit(**PARALLEL)
def layernorm_fwd(x, g, b, eps, y, xhat, rstd):
    """y = xhat * g + b with xhat = (x - mean) * rstd per row; saves xhat and rstd (N,)."""
    n, d = x.shape
    inv_d = F1 / np.float32(d)
    for i in prange(n):
        mu = F0
        for j in range(d):
            mu += x[i, j]
        mu *= inv_d
        var = F0
        for j in range(d):
            c = x[i, j] - mu
            xhat[i, j] = c
            var += c * c
        r = F1 / np.sqrt(var * inv_d + eps)
        rstd[i] = r
        for j in range(d):
            xh = xhat[i, j] * r
            xhat[i, j] = xh
            y[i, j] = xh * g[j] + b[j]


@njit(**PARALLEL)
def layernorm_bwd(dy, xhat, rstd, g, dx, dg_parts, db_parts, accumulate):
    """dx (added to ``dx`` when ``accumulate``, the residual stream) and per-chunk partial sums
    of dg, db: chunk c of ``dg_parts.shape[0]`` sums its rows, the caller adds the chunks (a
    fixed order, so results do not depend on thread timing)."""
    n, d = dy.shape
    chunks = dg_parts.shape[0]
    inv_d = F1 / np.float32(d)
    for c in prange(chunks):
        lo = n * c // chunks
        hi = n * (c + 1) // chunks
        for j in range(d):
            dg_parts[c, j] = F0
            db_parts[c, j] = F0
        for i in range(lo, hi):
            m1 = F0
            m2 = F0
            for j in range(d):
                dyj = dy[i, j]
                xh = xhat[i, j]
                dxh = dyj * g[j]
                m1 += dxh
                m2 += dxh * xh
                dg_parts[c, j] += dyj * xh
                db_parts[c, j] += dyj
            m1 *= inv_d
            m2 *= inv_d
            r = rstd[i]
            if accumulate:
                for j in range(d):
                    dx[i, j] += (dy[i, j] * g[j] - m1 - xhat[i, j] * m2) * r
            else:
                for j in range(d):
                    dx[i, j] = (dy[i, j] * g[j] - m1 - xhat[i, j] * m2) * r


# ---------------------------------------------------------------------------------- GELU
@njit(**PARALLEL)
def gelu_fwd(h, out, sig):
    """GELU (tanh form) as h * sigmoid(2u), u = c (h + a h^3); saves the sigmoid for backward."""
    n, d = h.shape
    for i in prange(n):
        for j in range(d):
            x = h[i, j]
            s = F1 / (F1 + fast_exp(np.float32(-2.0) * GELU_C * (x + GELU_A * x * x * x)))
            sig[i, j] = s
            out[i, j] = x * s


@njit(**PARALLEL)
def gelu_bwd(dy, h, sig, dh):
    """d/dx [x s(2u)] = s + x s (1 - s) 2c (1 + 3a x^2), from the saved sigmoid s."""
    n, d = h.shape
    for i in prange(n):
        for j in range(d):
            x = h[i, j]
            s = sig[i, j]
            du = np.float32(2.0) * GELU_C * (F1 + np.float32(3.0) * GELU_A * x * x)
            dh[i, j] = dy[i, j] * (s + x * s * (F1 - s) * du)


# ---------------------------------------------------------------------------------- loss
@njit(**PARALLEL)
def cross_entropy(logits, targets, losses):
    """Per-row CE into ``losses`` (float64); ``logits`` becomes d(mean loss)/d logits in place."""
    n, v = logits.shape
    inv_n = F1 / np.float32(n)
    for i in prange(n):
        m = NEG_INF
        for j in range(v):
            m = max(m, logits[i, j])
        t = targets[i]
        zt = logits[i, t] - m
        total = F0
        for j in range(v):
            e = fast_exp(logits[i, j] - m)
            logits[i, j] = e
            total += e
        losses[i] = np.log(np.float64(total)) - np.float64(zt)
        scale = inv_n / total
        for j in range(v):
            logits[i, j] *= scale
        logits[i, t] -= inv_n


# ---------------------------------------------------------------------------------- AdamW
@njit(**PARALLEL)
def adamw(p, g, m, v, decay, b1, b2, c1, c2, step_size, inv_sqrt_bc2, eps):
    """torch.optim.AdamW's update over flat float32 buffers, in blocks of 16k elements."""
    n = p.size
    block = 1 << 14
    for blk in prange((n + block - 1) // block):
        for i in range(blk * block, min(n, (blk + 1) * block)):
            gi = g[i]
            mi = m[i] * b1 + c1 * gi
            vi = v[i] * b2 + c2 * (gi * gi)
            m[i] = mi
            v[i] = vi
            p[i] = p[i] * decay - step_size * (mi / (np.sqrt(vi) * inv_sqrt_bc2 + eps))


# ---------------------------------------------------------------------------------- embedding
@njit(**PARALLEL)
def embed_fwd(tokens, wte, wpe, x):
    """x[b*T + t] = wte[tokens[b, t]] + wpe[t]."""
    bsz, t_len = tokens.shape
    d = wte.shape[1]
    for r in prange(bsz * t_len):
        tok = tokens[r // t_len, r % t_len]
        t = r % t_len
        for j in range(d):
            x[r, j] = wte[tok, j] + wpe[t, j]


@njit(**PARALLEL)
def embed_bwd(tokens, dx, dwte, dwpe):
    """dwte[tok] += dx rows (added: the tied head wrote its share first); dwpe = sum over batch.
    Split over column blocks, so no two threads ever add into the same element."""
    bsz, t_len = tokens.shape
    d = dx.shape[1]
    width = 16
    for cb in prange((d + width - 1) // width):
        c0 = cb * width
        c1 = min(d, c0 + width)
        for t in range(t_len):
            for j in range(c0, c1):
                dwpe[t, j] = F0
        for r in range(bsz * t_len):
            tok = tokens[r // t_len, r % t_len]
            t = r % t_len
            for j in range(c0, c1):
                v = dx[r, j]
                dwte[tok, j] += v
                dwpe[t, j] += v
