"""Compiled (Numba) kernels for the CPU backend: every op of the step that is not one big GEMM.

Why compiled: in NumPy each of LayerNorm, GELU, softmax and AdamW is 5-10 passes over memory, one
ufunc call each, and splitting them across Python threads stops paying off at ~4 threads because
every call takes the GIL. Here each op is one fused loop, ``prange`` spreads its rows over
Numba's own thread pool (no GIL), so these ops scale with the cores like the BLAS GEMMs do.

Conventions: all arrays float32 and C-contiguous; row-major activations (N = B*T rows);
``qkv`` is (N, 3C) with columns Q | K | V and head h at h*hd .. h*hd+hd of each. Kernels write into
caller-provided outputs, so the backend owns every allocation. Float32 arithmetic throughout,
except cross-entropy's per-row loss (float64, like the reference).

``fast_exp`` is a float32 exp that LLVM can vectorise (libm's ``expf`` is scalar and was the
largest cost of GELU and softmax); its relative error is below 4e-7 (a few float32 ulp).

Attention (causal) works per (batch, head) group, one group per ``prange`` iteration:
  * ``naive``: one query row at a time, the row's scores and probabilities held in a length-T
    buffer, and the probabilities of every row kept in a (G, T, T) array for the backward;
  * ``fa2``: FlashAttention-2 arithmetic: the forward runs an online softmax over blocks of
    ``FA2_BLOCK`` keys and keeps only one log-sum-exp per query row; the backward recomputes each
    probability from Q, K and that log-sum-exp. Extra memory is O(T) per thread, never O(T^2).
Keys above the diagonal are never touched by either.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401 - the BLAS Numba's np.dot calls; loaded up front
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

# Reassociation and contraction let LLVM vectorise reductions and use FMA; no 'nnan'/'ninf', so
# infinities (an empty softmax max starts at -inf) keep their IEEE meaning.
_FM = {"reassoc", "contract", "arcp", "nsz", "afn"}
_JIT = {"fastmath": _FM, "cache": True, "nogil": True, "error_model": "numpy"}
_PAR = {**_JIT, "parallel": True}

FA2_BLOCK = 64  # keys per online-softmax block of the fa2 forward

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_NEG_INF = np.float32(-np.inf)
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

GELU_C = np.float32(0.7978845608028654)  # sqrt(2 / pi)
GELU_A = np.float32(0.044715)


@intrinsic
def _float_from_bits(typingctx, bits):  # noqa: ARG001 - numba's intrinsic signature
    """Reinterpret the low 32 bits of an integer as a float32 (a cast LLVM vectorises)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], ir.IntType(32)) if bits.bitwidth > 32 else args[0]
        return builder.bitcast(low, ir.FloatType())

    return types.float32(bits), codegen


@njit(inline="always", **_JIT)
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
    er = p * (r * r) + r + _F1
    scaled = er * _float_from_bits((np.int32(n) + 127) << 23)
    return scaled if x >= _EXP_LO else _F0


@njit(**_PAR)
def exp_array(x, out):
    """``fast_exp`` elementwise (for tests and anyone wanting the vectorised exp)."""
    flat_x = x.reshape(-1)
    flat_o = out.reshape(-1)
    for i in prange(flat_x.size):
        flat_o[i] = fast_exp(flat_x[i])


# ---------------------------------------------------------------------------------- GEMM
# The GEMMs run on Numba's pool too, each thread calling the BLAS single-threaded on its share.
# Two pools (a multithreaded BLAS beside Numba's) fought on 16 cores: whichever pool had just
# finished kept its threads spinning and stole the cores from the other (a medium step took
# 600 ms at 16 threads), and OpenBLAS's own threading was slower than one thread on these small
# GEMMs. One pool is what torch has (OpenMP for its kernels and MKL alike).
@njit(**_PAR)
def matmul(a, b, out, accumulate, chunks):
    """out = a @ b (or out += a @ b), in ``chunks`` row blocks of ``a`` (the thread count: asking
    Numba for it inside a kernel would stop the kernel from being cached); ``b`` may be a
    transposed view (F-contiguous)."""
    n = a.shape[0]
    for c in prange(chunks):
        lo = n * c // chunks
        hi = n * (c + 1) // chunks
        if accumulate:
            out[lo:hi] += np.dot(a[lo:hi], b)
        else:
            np.dot(a[lo:hi], b, out[lo:hi])


@njit(**_PAR)
def matmul_tn(a, b, parts, out):
    """out = a^T @ b, the weight-gradient GEMM: a (N, K), b (N, M) with N = B*T rows, the long
    reduction. Chunk c of ``parts.shape[0]`` reduces its rows into parts[c] (K, M); the chunks
    are then added in a fixed order, row blocks of ``out`` in parallel."""
    n = a.shape[0]
    chunks = parts.shape[0]
    for c in prange(chunks):
        lo = n * c // chunks
        hi = n * (c + 1) // chunks
        np.dot(a[lo:hi].T, b[lo:hi], parts[c])
    k, m = out.shape
    for i in prange(k):
        for j in range(m):
            out[i, j] = parts[0, i, j]
        for c in range(1, chunks):
            for j in range(m):
                out[i, j] += parts[c, i, j]


# ---------------------------------------------------------------------------------- LayerNorm
@njit(**_PAR)
def layernorm_fwd(x, g, b, eps, y, xhat, rstd):
    """y = xhat * g + b with xhat = (x - mean) * rstd per row; saves xhat and rstd (N,)."""
    n, d = x.shape
    inv_d = _F1 / np.float32(d)
    for i in prange(n):
        mu = _F0
        for j in range(d):
            mu += x[i, j]
        mu *= inv_d
        var = _F0
        for j in range(d):
            c = x[i, j] - mu
            xhat[i, j] = c
            var += c * c
        r = _F1 / np.sqrt(var * inv_d + eps)
        rstd[i] = r
        for j in range(d):
            xh = xhat[i, j] * r
            xhat[i, j] = xh
            y[i, j] = xh * g[j] + b[j]


@njit(**_PAR)
def layernorm_bwd(dy, xhat, rstd, g, dx, dg_parts, db_parts, accumulate):
    """dx (added to ``dx`` when ``accumulate``, the residual stream) and per-chunk partial sums
    of dg, db: chunk c of ``dg_parts.shape[0]`` sums its rows, the caller adds the chunks (a
    fixed order, so results do not depend on thread timing)."""
    n, d = dy.shape
    chunks = dg_parts.shape[0]
    inv_d = _F1 / np.float32(d)
    for c in prange(chunks):
        lo = n * c // chunks
        hi = n * (c + 1) // chunks
        for j in range(d):
            dg_parts[c, j] = _F0
            db_parts[c, j] = _F0
        for i in range(lo, hi):
            m1 = _F0
            m2 = _F0
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
@njit(**_PAR)
def gelu_fwd(h, out, sig):
    """GELU (tanh form) as h * sigmoid(2u), u = c (h + a h^3); saves the sigmoid for backward."""
    n, d = h.shape
    for i in prange(n):
        for j in range(d):
            x = h[i, j]
            s = _F1 / (_F1 + fast_exp(np.float32(-2.0) * GELU_C * (x + GELU_A * x * x * x)))
            sig[i, j] = s
            out[i, j] = x * s


@njit(**_PAR)
def gelu_bwd(dy, h, sig, dh):
    """d/dx [x s(2u)] = s + x s (1 - s) 2c (1 + 3a x^2), from the saved sigmoid s."""
    n, d = h.shape
    for i in prange(n):
        for j in range(d):
            x = h[i, j]
            s = sig[i, j]
            du = np.float32(2.0) * GELU_C * (_F1 + np.float32(3.0) * GELU_A * x * x)
            dh[i, j] = dy[i, j] * (s + x * s * (_F1 - s) * du)


# ---------------------------------------------------------------------------------- loss
@njit(**_PAR)
def cross_entropy(logits, targets, losses):
    """Per-row CE into ``losses`` (float64); ``logits`` becomes d(mean loss)/d logits in place."""
    n, v = logits.shape
    inv_n = _F1 / np.float32(n)
    for i in prange(n):
        m = _NEG_INF
        for j in range(v):
            m = max(m, logits[i, j])
        t = targets[i]
        zt = logits[i, t] - m
        total = _F0
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
@njit(**_PAR)
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
@njit(**_PAR)
def embed_fwd(tokens, wte, wpe, x):
    """x[b*T + t] = wte[tokens[b, t]] + wpe[t]."""
    bsz, t_len = tokens.shape
    d = wte.shape[1]
    for r in prange(bsz * t_len):
        tok = tokens[r // t_len, r % t_len]
        t = r % t_len
        for j in range(d):
            x[r, j] = wte[tok, j] + wpe[t, j]


@njit(**_PAR)
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
                dwpe[t, j] = _F0
        for r in range(bsz * t_len):
            tok = tokens[r // t_len, r % t_len]
            t = r % t_len
            for j in range(c0, c1):
                v = dx[r, j]
                dwte[tok, j] += v
                dwpe[t, j] += v


# ---------------------------------------------------------------------------------- attention
# Every inner loop runs over contiguous key indices j < n (the causal row length): K and V are
# staged transposed, (hd, T), and dK, dV accumulate transposed, so scores, P V, dP, dQ, dK and dV
# are all long unit-stride loops that LLVM vectorises (loops over head_dim, 32-64 long with
# strided rows, did not: 3 GFLOP/s against 18).
@njit(inline="always", **_JIT)
def _stage_transposed(qkv, r0, col, t_len, hd, dst):
    """dst (hd, T) = the (T, hd) head slice of qkv at rows r0.., columns col.., transposed."""
    for j in range(t_len):
        for e in range(hd):
            dst[e, j] = qkv[r0 + j, col + e]


@njit(inline="always", **_JIT)
def _row_scores(q, n, kt, s):
    """s[:n] = q . k_j for the keys j < n (q already scaled)."""
    for j in range(n):
        s[j] = _F0
    for e in range(q.size):
        qe = q[e]
        for j in range(n):
            s[j] += qe * kt[e, j]


@njit(inline="always", **_JIT)
def _row_times_keys(p, n, vt, o):
    """o[e] = sum_j<n p[j] v_j[e] (P V for one query row)."""
    for e in range(o.size):
        acc = _F0
        for j in range(n):
            acc += p[j] * vt[e, j]
        o[e] = acc


@njit(inline="always", **_JIT)
def _load_row(qkv, row, col, scale, dst):
    for e in range(dst.size):
        dst[e] = qkv[row, col + e] * scale


@njit(**_PAR)
def attention_naive_fwd(qkv, n_batch, n_head, scale, out, probs):
    """out (N, C); probs (G, T, T) with G = B*H, zero above the diagonal."""
    n_rows, c3 = qkv.shape
    c = c3 // 3
    t_len = n_rows // n_batch
    hd = c // n_head
    for grp in prange(n_batch * n_head):
        r0 = (grp // n_head) * t_len
        qc = (grp % n_head) * hd
        kt = np.empty((hd, t_len), np.float32)
        vt = np.empty((hd, t_len), np.float32)
        _stage_transposed(qkv, r0, c + qc, t_len, hd, kt)
        _stage_transposed(qkv, r0, 2 * c + qc, t_len, hd, vt)
        q = np.empty(hd, np.float32)
        o = np.empty(hd, np.float32)
        for i in range(t_len):
            n = i + 1
            s = probs[grp, i]
            _load_row(qkv, r0 + i, qc, scale, q)
            _row_scores(q, n, kt, s)
            m = _NEG_INF
            for j in range(n):
                m = max(m, s[j])
            total = _F0
            for j in range(n):
                pj = fast_exp(s[j] - m)
                s[j] = pj
                total += pj
            inv = _F1 / total
            for j in range(n):
                s[j] *= inv
            for j in range(n, t_len):
                s[j] = _F0
            _row_times_keys(s, n, vt, o)
            for e in range(hd):
                out[r0 + i, qc + e] = o[e]


@njit(**_PAR)
def attention_fa2_fwd(qkv, n_batch, n_head, scale, block, out, lse):
    """out (N, C) and lse (G, T): online softmax over key blocks of ``block``; no T x T state."""
    n_rows, c3 = qkv.shape
    c = c3 // 3
    t_len = n_rows // n_batch
    hd = c // n_head
    for grp in prange(n_batch * n_head):
        r0 = (grp // n_head) * t_len
        qc = (grp % n_head) * hd
        kt = np.empty((hd, t_len), np.float32)
        vt = np.empty((hd, t_len), np.float32)
        _stage_transposed(qkv, r0, c + qc, t_len, hd, kt)
        _stage_transposed(qkv, r0, 2 * c + qc, t_len, hd, vt)
        s = np.empty(block, np.float32)
        q = np.empty(hd, np.float32)
        o = np.empty(hd, np.float32)
        ob = np.empty(hd, np.float32)
        for i in range(t_len):
            _load_row(qkv, r0 + i, qc, scale, q)
            o[:] = _F0
            m = _NEG_INF
            total = _F0
            for j0 in range(0, i + 1, block):
                nb = min(block, i + 1 - j0)
                _row_scores(q, nb, kt[:, j0:], s)
                m_new = m
                for jj in range(nb):
                    m_new = max(m_new, s[jj])
                corr = fast_exp(m - m_new) if m > _NEG_INF else _F0
                total *= corr
                for jj in range(nb):
                    s[jj] = fast_exp(s[jj] - m_new)
                    total += s[jj]
                _row_times_keys(s, nb, vt[:, j0:], ob)
                for e in range(hd):
                    o[e] = o[e] * corr + ob[e]
                m = m_new
            inv = _F1 / total
            for e in range(hd):
                out[r0 + i, qc + e] = o[e] * inv
            lse[grp, i] = m + np.log(total)


@njit(inline="always", **_JIT)
def _row_grads(p, ds, n, do_i, q_i, kt, dkt, dvt, dq):
    """From row i's P p[:n] and dS ds[:n]: dq_i = dS K, dK^T += q_i dS, dV^T += dO_i P."""
    for e in range(dq.size):
        acc = _F0
        qe = q_i[e]
        de = do_i[e]
        for j in range(n):
            acc += ds[j] * kt[e, j]
            dkt[e, j] += qe * ds[j]
            dvt[e, j] += de * p[j]
        dq[e] = acc


@njit(inline="always", **_JIT)
def _write_kv_grads(dkt, dvt, r0, kc, vc, dqkv):
    hd, t_len = dkt.shape
    for j in range(t_len):
        for e in range(hd):
            dqkv[r0 + j, kc + e] = dkt[e, j]
            dqkv[r0 + j, vc + e] = dvt[e, j]


@njit(**_PAR)
def attention_naive_bwd(qkv, dout, probs, n_batch, n_head, scale, dqkv):
    """dqkv (N, 3C) from dout (N, C) and the saved probs: dS = P * (dP - rowsum(dP * P))."""
    n_rows, c3 = qkv.shape
    c = c3 // 3
    t_len = n_rows // n_batch
    hd = c // n_head
    for grp in prange(n_batch * n_head):
        r0 = (grp // n_head) * t_len
        qc = (grp % n_head) * hd
        kt = np.empty((hd, t_len), np.float32)
        vt = np.empty((hd, t_len), np.float32)
        _stage_transposed(qkv, r0, c + qc, t_len, hd, kt)
        _stage_transposed(qkv, r0, 2 * c + qc, t_len, hd, vt)
        dkt = np.zeros((hd, t_len), np.float32)
        dvt = np.zeros((hd, t_len), np.float32)
        ds = np.empty(t_len, np.float32)
        do_i = np.empty(hd, np.float32)
        q_i = np.empty(hd, np.float32)
        dq = np.empty(hd, np.float32)
        for i in range(t_len):
            n = i + 1
            p = probs[grp, i]
            _load_row(dout, r0 + i, qc, _F1, do_i)
            _load_row(qkv, r0 + i, qc, scale, q_i)
            _row_scores(do_i, n, vt, ds)  # dP
            rowdot = _F0
            for j in range(n):
                rowdot += ds[j] * p[j]
            for j in range(n):
                ds[j] = p[j] * (ds[j] - rowdot)
            _row_grads(p, ds, n, do_i, q_i, kt, dkt, dvt, dq)
            for e in range(hd):
                dqkv[r0 + i, qc + e] = dq[e] * scale
        _write_kv_grads(dkt, dvt, r0, c + qc, 2 * c + qc, dqkv)


@njit(**_PAR)
def attention_fa2_bwd(qkv, dout, out, lse, n_batch, n_head, scale, dqkv):
    """dqkv (N, 3C), recomputing P_ij = exp(scale q_i.k_j - lse_i); delta_i = dO_i . O_i stands
    in for the row sum of dP * P, so nothing of size T x T is read or written."""
    n_rows, c3 = qkv.shape
    c = c3 // 3
    t_len = n_rows // n_batch
    hd = c // n_head
    for grp in prange(n_batch * n_head):
        r0 = (grp // n_head) * t_len
        qc = (grp % n_head) * hd
        kt = np.empty((hd, t_len), np.float32)
        vt = np.empty((hd, t_len), np.float32)
        _stage_transposed(qkv, r0, c + qc, t_len, hd, kt)
        _stage_transposed(qkv, r0, 2 * c + qc, t_len, hd, vt)
        dkt = np.zeros((hd, t_len), np.float32)
        dvt = np.zeros((hd, t_len), np.float32)
        p = np.empty(t_len, np.float32)
        ds = np.empty(t_len, np.float32)
        do_i = np.empty(hd, np.float32)
        q_i = np.empty(hd, np.float32)
        dq = np.empty(hd, np.float32)
        for i in range(t_len):
            n = i + 1
            _load_row(dout, r0 + i, qc, _F1, do_i)
            _load_row(qkv, r0 + i, qc, scale, q_i)
            delta = _F0
            for e in range(hd):
                delta += do_i[e] * out[r0 + i, qc + e]
            _row_scores(q_i, n, kt, p)
            row_lse = lse[grp, i]
            for j in range(n):
                p[j] = fast_exp(p[j] - row_lse)
            _row_scores(do_i, n, vt, ds)  # dP
            for j in range(n):
                ds[j] = p[j] * (ds[j] - delta)
            _row_grads(p, ds, n, do_i, q_i, kt, dkt, dvt, dq)
            for e in range(hd):
                dqkv[r0 + i, qc + e] = dq[e] * scale
        _write_kv_grads(dkt, dvt, r0, c + qc, 2 * c + qc, dqkv)
