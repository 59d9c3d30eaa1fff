"""GEMMs for the CPU backend: the BLAS called single-threaded from inside Numba's thread pool.

Why not a multithreaded BLAS: the CPU backend's other ops run on Numba's pool, and two pools on
the same cores fight. On the 16-core H100 host, OpenBLAS's idle threads kept spinning while
Numba's worked and the reverse (a medium step took ~600 ms at 16 threads), and OpenBLAS's own
threading was slower than one thread on these small GEMMs anyway. So the backend holds the BLAS
at one thread and splits each GEMM into blocks that Numba's threads hand to it, which is what
torch does with one OpenMP pool for its kernels and MKL alike.

``gemm`` is a row-major ``C = alpha op(A) op(B) + beta C`` on sub-blocks of float32 arrays given
by element offsets and row strides, so operands can be slices of a larger buffer (a head's Q
inside qkv, a column block of a gradient) without copies. It calls Numba's own ``numba_xxgemm``
helper, which forwards to SciPy's BLAS. Binding it by symbol name keeps the calling kernels
cacheable (``np.dot`` in a kernel is too, but it needs contiguous operands).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401 - the BLAS behind numba_xxgemm, loaded up front
from numba import njit, prange, types

from backends.cpu_kernels import JIT, PARALLEL

# int numba_xxgemm(kind, transa, transb, m, n, k, *alpha, *a, lda, *b, ldb, *beta, *c, ldc):
# column-major, as the Fortran BLAS. Pointers are passed as intp (same calling convention).
_xxgemm = types.ExternalFunction(
    "numba_xxgemm",
    types.int32(
        types.int8, types.int8, types.int8, types.intp, types.intp, types.intp,
        types.intp, types.intp, types.intp, types.intp, types.intp, types.intp,
        types.intp, types.intp,
    ),
)
_SINGLE = np.int8(ord("s"))
_N = np.int8(ord("n"))
_T = np.int8(ord("t"))
_F4 = np.intp(4)  # bytes per float32

# Column blocks of a weight gradient are multiples of this (whole SIMD vectors for the BLAS).
COL_ALIGN = 16


@njit(inline="always", **JIT)
def gemm(m, n, k, alpha, beta, a, a_off, lda, a_t, b, b_off, ldb, b_t, c, c_off, ldc, ab):
    """Row-major C[m, n] = alpha op(A)[m, k] @ op(B)[k, n] + beta C.

    ``a``, ``b``, ``c`` are C-contiguous float32 arrays; each operand starts at element offset
    ``*_off`` with row stride ``ld*``. op(A) = A, stored m x k, or with ``a_t`` A^T, stored
    k x m (likewise B). ``ab`` is a thread's 2-float scratch for alpha and beta (the BLAS takes
    them by pointer). In column-major terms this is C^T = op(B)^T op(A)^T, hence the swap."""
    if m <= 0 or n <= 0:
        return
    if k <= 0:
        if beta == 0:
            cf = c.reshape(-1)
            for i in range(m):
                for j in range(n):
                    cf[c_off + i * ldc + j] = 0
        return
    ab[0] = alpha
    ab[1] = beta
    pa = np.intp(a.ctypes.data) + _F4 * np.intp(a_off)
    pb = np.intp(b.ctypes.data) + _F4 * np.intp(b_off)
    pc = np.intp(c.ctypes.data) + _F4 * np.intp(c_off)
    pab = np.intp(ab.ctypes.data)
    _xxgemm(
        _SINGLE, _T if b_t else _N, _T if a_t else _N, n, m, k,
        pab, pb, ldb, pa, lda, pab + _F4, pc, ldc,
    )


@njit(**PARALLEL)
def matmul(a, b, b_t, out, beta, chunks):
    """out = a @ op(b) + beta out (beta 1: the residual stream), in ``chunks`` row blocks of a.

    a (N, K); b (K, M), or with ``b_t`` (M, K) meaning b^T (a weight used transposed)."""
    n, k = a.shape
    m = out.shape[1]
    ldb = b.shape[1]
    for ch in prange(chunks):
        lo = n * ch // chunks
        hi = n * (ch + 1) // chunks
        ab = np.empty(2, np.float32)
        gemm(hi - lo, m, k, np.float32(1), beta, a, lo * k, k, False, b, 0, ldb, b_t,
             out, lo * m, m, ab)


@njit(**PARALLEL)
def matmul_tn(a, b, out, chunks):
    """out = a^T @ b, a weight gradient: a (N, K), b (N, M), the long reduction over N = B*T rows
    done inside each BLAS call; ``chunks`` column blocks of out (and b) in parallel."""
    n, k = a.shape
    m = b.shape[1]
    for ch in prange(chunks):
        c0 = (m * ch // chunks) // COL_ALIGN * COL_ALIGN
        c1 = m if ch == chunks - 1 else (m * (ch + 1) // chunks) // COL_ALIGN * COL_ALIGN
        ab = np.empty(2, np.float32)
        gemm(k, c1 - c0, n, np.float32(1), np.float32(0), a, 0, k, True, b, c0, m, False,
             out, c0, m, ab)
