"""Causal attention kernels for the CPU backend: ``naive`` and ``fa2`` (FlashAttention-2 style).

Both work on a chunk of G = (batch x head) groups at once, q, k, v shaped (G, T, hd) float32, so the
backend can hand different chunks to different threads. Shapes in comments: (G, T, T) is the score
matrix of every group, (G, bq, bk) one block of it.

* ``naive`` materialises the scores and probabilities (G, T, T) and keeps P for the backward.
* ``fa2`` never holds more than one (G, bq, bk) block: the forward runs an online softmax over key
  blocks and saves only the output and one log-sum-exp per query row; the backward recomputes each
  P block from Q, K and that log-sum-exp. Blocks entirely above the diagonal are skipped, which
  also halves the arithmetic. Extra memory is O(T) per group instead of O(T^2).
"""

from __future__ import annotations

import numpy as np

FA2_BLOCK = 64  # rows/keys per block: a (64 x 64) float32 score block and its K, V stay in L2


def _causal_mask(n: int) -> np.ndarray:
    """Additive mask for a diagonal block: -inf where key index > query index."""
    return np.triu(np.full((n, n), -np.inf, np.float32), k=1)


def naive_fwd(q, k, v, scale) -> tuple[np.ndarray, np.ndarray]:
    """o (G, T, hd) and P (G, T, T)."""
    T = q.shape[1]
    s = np.matmul(q, k.transpose(0, 2, 1))  # (G, T, T)
    s *= scale
    s += _causal_mask(T)
    s -= s.max(axis=2, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=2, keepdims=True)
    return np.matmul(s, v), s


def naive_bwd(do, q, k, v, p, scale) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dQ, dK, dV from dO and the saved P: dS = P * (dO V^T - rowsum(dO V^T * P))."""
    dv = np.matmul(p.transpose(0, 2, 1), do)
    dp = np.matmul(do, v.transpose(0, 2, 1))  # (G, T, T)
    dp -= np.einsum("gij,gij->gi", dp, p)[:, :, None]
    dp *= p
    dp *= scale
    return np.matmul(dp, k), np.matmul(dp.transpose(0, 2, 1), q), dv


def _blocks(T: int, block: int) -> list[tuple[int, int]]:
    return [(i, min(i + block, T)) for i in range(0, T, block)]


def fa2_fwd(q, k, v, scale, block: int = FA2_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """o (G, T, hd) and the log-sum-exp of each query row's scaled scores, lse (G, T)."""
    G, T, hd = q.shape
    o = np.empty_like(q)
    lse = np.empty((G, T), np.float32)
    blocks = _blocks(T, block)
    for bi, (i0, i1) in enumerate(blocks):
        qi = q[:, i0:i1]
        m = np.full((G, i1 - i0, 1), -np.inf, np.float32)
        l_sum = np.zeros((G, i1 - i0, 1), np.float32)
        acc = np.zeros((G, i1 - i0, hd), np.float32)
        for j0, j1 in blocks[: bi + 1]:  # key blocks at or left of the diagonal
            s = np.matmul(qi, k[:, j0:j1].transpose(0, 2, 1))  # (G, bq, bk)
            s *= scale
            if j0 == i0:
                s += _causal_mask(i1 - i0)
            m_new = np.maximum(m, s.max(axis=2, keepdims=True))
            s -= m_new
            np.exp(s, out=s)
            corr = np.exp(m - m_new)
            l_sum *= corr
            l_sum += s.sum(axis=2, keepdims=True)
            acc *= corr
            acc += np.matmul(s, v[:, j0:j1])
            m = m_new
        np.divide(acc, l_sum, out=o[:, i0:i1])
        lse[:, i0:i1] = (m + np.log(l_sum))[:, :, 0]
    return o, lse


def fa2_bwd(do, q, k, v, o, lse, scale, block: int = FA2_BLOCK):
    """dQ, dK, dV, recomputing each P block as exp(S - lse); D = rowsum(dO * O) replaces P's sum."""
    T = q.shape[1]
    dq = np.zeros_like(q)
    dk = np.zeros_like(k)
    dv = np.zeros_like(v)
    delta = np.einsum("gtd,gtd->gt", do, o)[:, :, None]  # (G, T, 1)
    blocks = _blocks(T, block)
    for bj, (j0, j1) in enumerate(blocks):
        kj, vj = k[:, j0:j1], v[:, j0:j1]
        for i0, i1 in blocks[bj:]:  # query blocks at or below the diagonal
            qi, doi = q[:, i0:i1], do[:, i0:i1]
            p = np.matmul(qi, kj.transpose(0, 2, 1))  # (G, bq, bk)
            p *= scale
            if i0 == j0:
                p += _causal_mask(i1 - i0)
            p -= lse[:, i0:i1, None]
            np.exp(p, out=p)
            dv[:, j0:j1] += np.matmul(p.transpose(0, 2, 1), doi)
            ds = np.matmul(doi, vj.transpose(0, 2, 1))
            ds -= delta[:, i0:i1]
            ds *= p
            ds *= scale
            dq[:, i0:i1] += np.matmul(ds, kj)
            dk[:, j0:j1] += np.matmul(ds.transpose(0, 2, 1), qi)
    return dq, dk, dv
