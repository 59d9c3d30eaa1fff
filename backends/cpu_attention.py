"""Causal multi-head attention for the CPU backend: ``naive`` and ``fa2``, forward and backward.

Both work on one (batch, head) group per iteration of a ``prange`` over the B*H groups, reading a
head's Q, K, V in place from ``qkv`` (N, 3C) (columns Q | K | V, head h at h*hd of each) and
writing ``out`` (N, C) / ``dqkv`` (N, 3C) in place. The products are BLAS calls on 64-row tiles
(``cpu_gemm.gemm``); the softmax and its gradient are compiled row loops with ``fast_exp``.
Key tiles wholly above the diagonal are never computed.

* ``naive`` keeps the probabilities P (G, T, T) for the backward and builds dP (T, T) per group:
  dS = P * (dP - rowsum(dP * P)), then dQ = dS K, dK = dS^T Q, dV = P^T dO.
* ``fa2`` (FlashAttention-2): the forward runs an online softmax over key tiles and keeps one
  log-sum-exp per query row; the backward walks key tiles, recomputes each P tile as
  exp(scale q.k - lse) and uses delta = rowsum(dO * O) for rowsum(dP * P). Extra memory is a few
  (64 x 64) tiles per thread, never T x T.
Scale: S = scale Q K^T; dQ = scale dS K; dK = scale dS^T Q.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from backends.cpu_gemm import gemm
from backends.cpu_kernels import F0, F1, JIT, NEG_INF, PARALLEL, fast_exp

BLOCK = 64  # query and key rows per tile: a (64 x 64) float32 tile and its operands stay in L2


@njit(inline="always", **JIT)
def _dims(qkv, n_batch, n_head):
    """(3C, C, T, head_dim) of a qkv (B*T, 3C) buffer."""
    n_rows, c3 = qkv.shape
    c = c3 // 3
    return c3, c, n_rows // n_batch, c // n_head


@njit(**PARALLEL)
def naive_fwd(qkv, n_batch, n_head, scale, out, probs):
    """out (N, C); probs (G, T, T), G = B*H, zero above the diagonal."""
    c3, c, t_len, hd = _dims(qkv, n_batch, n_head)
    for grp in prange(n_batch * n_head):
        ab = np.empty(2, np.float32)
        r0 = (grp // n_head) * t_len
        qc = (grp % n_head) * hd
        pg = grp * t_len * t_len
        for i0 in range(0, t_len, BLOCK):
            i1 = min(t_len, i0 + BLOCK)
            gemm(i1 - i0, i1, hd, scale, F0, qkv, (r0 + i0) * c3 + qc, c3, False,
                 qkv, r0 * c3 + c + qc, c3, True, probs, pg + i0 * t_len, t_len, ab)
            for i in range(i0, i1):
                row = probs[grp, i]
                m = NEG_INF
                for j in range(i + 1):
                    m = max(m, row[j])
                total = F0
                for j in range(i + 1):
                    e = fast_exp(row[j] - m)
                    row[j] = e
                    total += e
                inv = F1 / total
                for j in range(i + 1):
                    row[j] *= inv
                for j in range(i + 1, t_len):
                    row[j] = F0
            gemm(i1 - i0, hd, i1, F1, F0, probs, pg + i0 * t_len, t_len, False,
                 qkv, r0 * c3 + 2 * c + qc, c3, False, out, (r0 + i0) * c + qc, c, ab)


@njit(**PARALLEL)
def naive_bwd(qkv, dout, probs, n_batch, n_head, scale, dqkv):
    """dqkv (N, 3C) from dout (N, C) and the saved probs."""
    c3, c, t_len, hd = _dims(qkv, n_batch, n_head)
    for grp in prange(n_batch * n_head):
        ab = np.empty(2, np.float32)
        ds = np.empty((t_len, t_len), np.float32)
        r0 = (grp // n_head) * t_len
        qc = (grp % n_head) * hd
        pg = grp * t_len * t_len
        for i0 in range(0, t_len, BLOCK):
            i1 = min(t_len, i0 + BLOCK)
            # dP tile rows i0..i1, keys 0..i1, then dS in place and dQ = scale dS K.
            gemm(i1 - i0, i1, hd, F1, F0, dout, (r0 + i0) * c + qc, c, False,
                 qkv, r0 * c3 + 2 * c + qc, c3, True, ds, i0 * t_len, t_len, ab)
            for i in range(i0, i1):
                p = probs[grp, i]
                d = ds[i]
                rowdot = F0
                for j in range(i + 1):
                    rowdot += d[j] * p[j]
                for j in range(i + 1):
                    d[j] = p[j] * (d[j] - rowdot)
                for j in range(i + 1, t_len):
                    d[j] = F0
            gemm(i1 - i0, hd, i1, scale, F0, ds, i0 * t_len, t_len, False,
                 qkv, r0 * c3 + c + qc, c3, False, dqkv, (r0 + i0) * c3 + qc, c3, ab)
        for j0 in range(0, t_len, BLOCK):
            j1 = min(t_len, j0 + BLOCK)
            # Keys j0..j1 see queries j0..T: dV = P^T dO, dK = scale dS^T Q.
            gemm(j1 - j0, hd, t_len - j0, F1, F0, probs, pg + j0 * t_len + j0, t_len, True,
                 dout, (r0 + j0) * c + qc, c, False, dqkv, (r0 + j0) * c3 + 2 * c + qc, c3, ab)
            gemm(j1 - j0, hd, t_len - j0, scale, F0, ds, j0 * t_len + j0, t_len, True,
                 qkv, (r0 + j0) * c3 + qc, c3, False, dqkv, (r0 + j0) * c3 + c + qc, c3, ab)


@njit(**PARALLEL)
def fa2_fwd(qkv, n_batch, n_head, scale, out, lse):
    """out (N, C) and lse (G, T): online softmax over key tiles; no T x T state."""
    c3, c, t_len, hd = _dims(qkv, n_batch, n_head)
    for grp in prange(n_batch * n_head):
        ab = np.empty(2, np.float32)
        s = np.empty((BLOCK, BLOCK), np.float32)
        acc = np.empty((BLOCK, hd), np.float32)
        m = np.empty(BLOCK, np.float32)
        total = np.empty(BLOCK, np.float32)
        r0 = (grp // n_head) * t_len
        qc = (grp % n_head) * hd
        for i0 in range(0, t_len, BLOCK):
            i1 = min(t_len, i0 + BLOCK)
            rows = i1 - i0
            m[:] = NEG_INF
            total[:] = F0
            acc[:] = F0
            for j0 in range(0, i1, BLOCK):  # key tiles up to the diagonal tile (j0 = i0)
                j1 = min(i1, j0 + BLOCK)
                gemm(rows, j1 - j0, hd, scale, F0, qkv, (r0 + i0) * c3 + qc, c3, False,
                     qkv, (r0 + j0) * c3 + c + qc, c3, True, s, 0, BLOCK, ab)
                for r in range(rows):
                    valid = min(j1, i0 + r + 1) - j0  # keys j <= i; >= 1 as j0 <= i0
                    row = s[r]
                    m_new = m[r]
                    for j in range(valid):
                        m_new = max(m_new, row[j])
                    corr = fast_exp(m[r] - m_new) if m[r] > NEG_INF else F0
                    part = F0
                    for j in range(valid):
                        e = fast_exp(row[j] - m_new)
                        row[j] = e
                        part += e
                    for j in range(valid, j1 - j0):
                        row[j] = F0
                    total[r] = total[r] * corr + part
                    m[r] = m_new
                    for e in range(hd):
                        acc[r, e] *= corr
                gemm(rows, hd, j1 - j0, F1, F1, s, 0, BLOCK, False,
                     qkv, (r0 + j0) * c3 + 2 * c + qc, c3, False, acc, 0, hd, ab)
            for r in range(rows):
                inv = F1 / total[r]
                for e in range(hd):
                    out[r0 + i0 + r, qc + e] = acc[r, e] * inv
                lse[grp, i0 + r] = m[r] + np.log(total[r])


@njit(**PARALLEL)
def fa2_bwd(qkv, dout, out, lse, n_batch, n_head, scale, dqkv):
    """dqkv (N, 3C), recomputing each P tile from Q, K and lse; delta = rowsum(dO * O)."""
    c3, c, t_len, hd = _dims(qkv, n_batch, n_head)
    for grp in prange(n_batch * n_head):
        ab = np.empty(2, np.float32)
        p = np.empty((BLOCK, BLOCK), np.float32)
        ds = np.empty((BLOCK, BLOCK), np.float32)
        dk = np.empty((BLOCK, hd), np.float32)
        dv = np.empty((BLOCK, hd), np.float32)
        delta = np.empty(t_len, np.float32)
        r0 = (grp // n_head) * t_len
        qc = (grp % n_head) * hd
        for i in range(t_len):
            d = F0
            for e in range(hd):
                d += dout[r0 + i, qc + e] * out[r0 + i, qc + e]
                dqkv[r0 + i, qc + e] = F0  # dQ accumulates over key tiles below
            delta[i] = d
        for j0 in range(0, t_len, BLOCK):
            j1 = min(t_len, j0 + BLOCK)
            cols = j1 - j0
            dk[:] = F0
            dv[:] = F0
            for i0 in range(j0, t_len, BLOCK):  # query tiles from the diagonal tile down
                i1 = min(t_len, i0 + BLOCK)
                rows = i1 - i0
                gemm(rows, cols, hd, scale, F0, qkv, (r0 + i0) * c3 + qc, c3, False,
                     qkv, (r0 + j0) * c3 + c + qc, c3, True, p, 0, BLOCK, ab)
                gemm(rows, cols, hd, F1, F0, dout, (r0 + i0) * c + qc, c, False,
                     qkv, (r0 + j0) * c3 + 2 * c + qc, c3, True, ds, 0, BLOCK, ab)
                for r in range(rows):
                    i = i0 + r
                    valid = min(cols, i + 1 - j0)
                    row_lse = lse[grp, i]
                    di = delta[i]
                    for j in range(valid):
                        pj = fast_exp(p[r, j] - row_lse)
                        p[r, j] = pj
                        ds[r, j] = pj * (ds[r, j] - di)
                    for j in range(valid, cols):
                        p[r, j] = F0
                        ds[r, j] = F0
                gemm(cols, hd, rows, F1, F1, p, 0, BLOCK, True,
                     dout, (r0 + i0) * c + qc, c, False, dv, 0, hd, ab)
                gemm(cols, hd, rows, F1, F1, ds, 0, BLOCK, True,
                     qkv, (r0 + i0) * c3 + qc, c3, False, dk, 0, hd, ab)
                gemm(rows, hd, cols, scale, F1, ds, 0, BLOCK, False,
                     qkv, (r0 + j0) * c3 + c + qc, c3, False, dqkv, (r0 + i0) * c3 + qc, c3, ab)
            for r in range(cols):
                for e in range(hd):
                    dqkv[r0 + j0 + r, c + qc + e] = dk[r, e] * scale
                    dqkv[r0 + j0 + r, 2 * c + qc + e] = dv[r, e]
