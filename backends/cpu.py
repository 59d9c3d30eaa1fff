"""Float32 NumPy backend: the multithreaded CPU half of every curve.

Same maths as ``backends.reference`` (hand-derived backward, torch-style AdamW), arranged for
speed on many cores:

* linear layers are single large GEMMs over all B*T rows, run by the BLAS with ``threads`` threads;
* everything that is not one big GEMM (attention's per-head products and softmax, LayerNorm, GELU,
  cross-entropy, AdamW) is split into row chunks run on a thread pool of the same size. NumPy
  releases the GIL inside its loops, so the chunks run truly in parallel. During those phases the
  BLAS is held at one thread so the two pools never fight over cores;
* parameters, gradients and Adam moments are single flat arrays (per-name views into them), so
  AdamW is a few passes over contiguous memory, split across the pool like any other row op.

``profile_step`` times each op with wall-clock timers; their sum is the step's math time and the
rest of the step (Python dispatch, allocation) its fixed overhead.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from backends import cpu_attention
from backends.base import Backend, BackendError, check_batch, check_params, require_loaded
from bench.environment import cpu_model
from bench.model import ModelConfig, OptimConfig, param_shapes

LN_EPS = np.float32(1e-5)
GELU_C = np.float32(math.sqrt(2.0 / math.pi))
GELU_A = np.float32(0.044715)
# Below this many elements an op runs inline: handing it to the pool costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 15
ATTENTION_VARIANTS = ("naive", "fa2")
# Most row-chunk workers. Past ~4, the NumPy calls of the chunks spend more time handing the GIL
# around than they gain (measured on a 16-core host: a step got slower from 4 to 16 workers); the
# BLAS still runs the big GEMMs on all ``threads``.
POOL_MAX = 4

_controller: ThreadpoolController | None = None


def _blas_controller() -> ThreadpoolController:
    """One process-wide controller: finding the loaded libraries is slow, setting threads is not."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class _OpTimers:
    """Accumulates wall time per op name while profiling; a no-op otherwise."""

    def __init__(self) -> None:
        self.times: dict[str, float] | None = None

    def run(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        if self.times is None:
            return fn(*args)
        t0 = time.perf_counter()
        out = fn(*args)
        self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t0
        return out


class CpuBackend(Backend):
    """Multithreaded float32 NumPy training step.

    Options: ``threads`` (default: all cores), ``attention`` ("naive" or "fa2", see cpu_attention).
    """

    name = "cpu"

    def __init__(
        self,
        config: ModelConfig,
        *,
        threads: int | None = None,
        attention: str = "naive",
        optim: OptimConfig | None = None,
    ) -> None:
        super().__init__(config, optim=optim)
        cores = available_cores()
        if threads is None:
            threads = cores
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise BackendError(f"threads must be a positive int, got {threads!r}")
        if attention not in ATTENTION_VARIANTS:
            raise BackendError(
                f"unknown CPU attention variant {attention!r}; "
                f"known: {', '.join(ATTENTION_VARIANTS)}"
            )
        self.threads = threads
        self.attention = attention
        self.pool_size = min(threads, POOL_MAX)
        self._pool = (
            ThreadPoolExecutor(self.pool_size, "cpu-backend") if self.pool_size > 1 else None
        )
        self._blas_libs = _blas_controller().select(user_api="blas").lib_controllers
        self._timers = _OpTimers()

        shapes = param_shapes(config)
        self._slices: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        off = 0
        for name, shape in shapes.items():
            n = int(np.prod(shape))
            self._slices[name] = (off, off + n, shape)
            off += n
        self.n_params = off
        self.flat_p = np.zeros(off, np.float32)
        self.flat_g = np.zeros(off, np.float32)
        self.flat_m = np.zeros(off, np.float32)
        self.flat_v = np.zeros(off, np.float32)
        self.p = self._views(self.flat_p)
        self.g = self._views(self.flat_g)
        self.step = 0
        self._loaded = False

    # ------------------------------------------------------------------ plumbing
    def _views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        return {n: flat[a:b].reshape(s) for n, (a, b, s) in self._slices.items()}

    def _set_blas_threads(self, n: int) -> None:
        for lib in self._blas_libs:
            lib.set_num_threads(n)

    def _par(self, fn: Callable[[int, int], None], n_rows: int, row_size: int) -> None:
        """Run fn(lo, hi) over row chunks on the pool; inline when small or single-threaded."""
        if self._pool is None or n_rows * row_size < PARALLEL_MIN_ELEMENTS or n_rows < 2:
            fn(0, n_rows)
            return
        k = min(self.pool_size, n_rows)
        bounds = [n_rows * i // k for i in range(k + 1)]
        futures = [self._pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, k)]
        fn(bounds[0], bounds[1])
        for f in futures:
            f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)

    # ------------------------------------------------------------------ ops
    def _layernorm_fwd(self, x: np.ndarray, g: np.ndarray, b: np.ndarray):
        """x (N, d) -> y, xhat, rstd (N, 1)."""
        N, d = x.shape
        y = np.empty_like(x)
        xhat = np.empty_like(x)
        rstd = np.empty((N, 1), np.float32)

        def rows(lo: int, hi: int) -> None:
            xs = x[lo:hi]
            mu = xs.mean(axis=1, keepdims=True)
            xc = np.subtract(xs, mu, out=xhat[lo:hi])
            var = np.einsum("ij,ij->i", xc, xc)[:, None] / np.float32(d)
            r = 1.0 / np.sqrt(var + LN_EPS)
            rstd[lo:hi] = r
            xc *= r
            np.multiply(xc, g, out=y[lo:hi])
            y[lo:hi] += b

        self._par(rows, N, d)
        return y, xhat, rstd

    def _layernorm_bwd(self, dy, xhat, rstd, g, dg_out, db_out) -> np.ndarray:
        """Returns dx; writes dg, db into the gradient views."""
        N, d = dy.shape
        dx = np.empty_like(dy)
        k = self.pool_size if self._pool is not None and N * d >= PARALLEL_MIN_ELEMENTS else 1
        parts_g = np.zeros((k, d), np.float32)
        parts_b = np.zeros((k, d), np.float32)
        bounds = [N * i // k for i in range(k + 1)]

        def chunk(i: int, _hi: int) -> None:
            for c in range(i, _hi):
                lo, hi = bounds[c], bounds[c + 1]
                dys, xh = dy[lo:hi], xhat[lo:hi]
                parts_g[c] = np.einsum("ij,ij->j", dys, xh)
                parts_b[c] = dys.sum(axis=0)
                dxh = dys * g
                m1 = dxh.mean(axis=1, keepdims=True)
                m2 = np.einsum("ij,ij->i", dxh, xh)[:, None] / np.float32(d)
                dxh -= m1
                dxh -= xh * m2
                np.multiply(dxh, rstd[lo:hi], out=dx[lo:hi])

        self._par(chunk, k, N * d // k)
        parts_g.sum(axis=0, out=dg_out)
        parts_b.sum(axis=0, out=db_out)
        return dx

    def _gelu_fwd(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """GELU(tanh form) written as x * sigmoid(2u), u = c (x + a x^3): one exp, no tanh.

        NumPy's float32 exp is vectorised where its tanh is not (about 2x faster here), and the
        sigmoid ``s`` is saved so the backward needs no transcendental at all.
        """
        out = np.empty_like(h)
        sig = np.empty_like(h)

        def rows(lo: int, hi: int) -> None:
            x = h[lo:hi]
            s = sig[lo:hi]
            np.multiply(x, x, out=s)
            s *= GELU_A
            s += 1.0
            s *= x
            s *= -2.0 * GELU_C
            np.exp(s, out=s)
            s += 1.0
            np.reciprocal(s, out=s)
            np.multiply(x, s, out=out[lo:hi])

        self._par(rows, h.shape[0], h.shape[1])
        return out, sig

    def _gelu_bwd(self, dy: np.ndarray, h: np.ndarray, sig: np.ndarray) -> np.ndarray:
        """d/dx [x s(2u)] = s + x s (1 - s) 2c (1 + 3a x^2), with the saved sigmoid s."""
        out = np.empty_like(h)

        def rows(lo: int, hi: int) -> None:
            x, s = h[lo:hi], sig[lo:hi]
            o = out[lo:hi]
            np.multiply(x, x, out=o)
            o *= 3.0 * GELU_A
            o += 1.0
            o *= 2.0 * GELU_C
            o *= x
            o *= s
            o *= 1.0 - s
            o += s
            o *= dy[lo:hi]

        self._par(rows, h.shape[0], h.shape[1])
        return out

    def _attention_fwd(self, qkv: np.ndarray):
        """qkv (B, T, 3d) -> out (B, T, d), split by head into (B*H, T, hd) groups on the pool.

        Saves what the chosen variant's backward needs: P (naive) or O and the row LSE (fa2).
        """
        c = self.config
        B, T, H, hd = c.batch, c.seq_len, c.n_head, c.head_dim
        heads = np.ascontiguousarray(qkv.reshape(B, T, 3, H, hd).transpose(2, 0, 3, 1, 4))
        q, k, v = (heads[i].reshape(B * H, T, hd) for i in range(3))
        o = np.empty((B * H, T, hd), np.float32)
        saved = np.empty((B * H, T, T) if self.attention == "naive" else (B * H, T), np.float32)
        scale = np.float32(1.0 / math.sqrt(hd))
        fwd = cpu_attention.naive_fwd if self.attention == "naive" else cpu_attention.fa2_fwd

        def groups(lo: int, hi: int) -> None:
            o[lo:hi], saved[lo:hi] = fwd(q[lo:hi], k[lo:hi], v[lo:hi], scale)

        self._on_pool(groups, B * H, T * T)
        out = o.reshape(B, H, T, hd).transpose(0, 2, 1, 3).reshape(B, T, H * hd)
        return out, (q, k, v, o, saved)

    def _attention_bwd(self, dout: np.ndarray, cache) -> np.ndarray:
        q, k, v, o, saved = cache
        c = self.config
        B, T, H, hd = c.batch, c.seq_len, c.n_head, c.head_dim
        do = np.ascontiguousarray(dout.reshape(B, T, H, hd).transpose(0, 2, 1, 3))
        do = do.reshape(B * H, T, hd)
        dheads = np.empty((3, B * H, T, hd), np.float32)
        scale = np.float32(1.0 / math.sqrt(hd))

        def groups(lo: int, hi: int) -> None:
            sl = slice(lo, hi)
            if self.attention == "naive":
                grads = cpu_attention.naive_bwd(do[sl], q[sl], k[sl], v[sl], saved[sl], scale)
            else:
                grads = cpu_attention.fa2_bwd(do[sl], q[sl], k[sl], v[sl], o[sl], saved[sl], scale)
            dheads[0, sl], dheads[1, sl], dheads[2, sl] = grads

        self._on_pool(groups, B * H, T * T)
        # (3, B, H, T, hd) -> (B, T, 3, H, hd) -> (B*T, 3d)
        return dheads.reshape(3, B, H, T, hd).transpose(1, 3, 0, 2, 4).reshape(B * T, 3 * H * hd)

    def _on_pool(self, fn: Callable[[int, int], None], n_rows: int, row_size: int) -> None:
        """``_par`` for work made of many small GEMMs: the pool already keeps every core busy,
        so the BLAS is held at one thread meanwhile."""
        self._set_blas_threads(1)
        try:
            self._par(fn, n_rows, row_size)
        finally:
            self._set_blas_threads(self.threads)

    def _cross_entropy(self, logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean CE over rows; turns ``logits`` (N, V) into dlogits in place and returns the loss."""
        N = logits.shape[0]
        losses = np.empty(N, np.float64)
        inv_n = np.float32(1.0 / N)

        def rows(lo: int, hi: int) -> None:
            z = logits[lo:hi]
            z -= z.max(axis=1, keepdims=True)
            r = np.arange(hi - lo)
            t = targets[lo:hi]
            zt = z[r, t].astype(np.float64)
            np.exp(z, out=z)
            ssum = z.sum(axis=1, keepdims=True)
            losses[lo:hi] = np.log(ssum[:, 0].astype(np.float64)) - zt
            z /= ssum
            z[r, t] -= 1.0
            z *= inv_n

        self._par(rows, N, logits.shape[1])
        return float(losses.mean()), logits

    def _adamw(self) -> None:
        o = self.optim
        self.step += 1
        bc1 = 1.0 - o.beta1**self.step
        bc2 = 1.0 - o.beta2**self.step
        decay = np.float32(1.0 - o.lr * o.weight_decay)
        b1, b2 = np.float32(o.beta1), np.float32(o.beta2)
        c1, c2 = np.float32(1.0 - o.beta1), np.float32(1.0 - o.beta2)
        step_size = np.float32(o.lr / bc1)
        inv_sqrt_bc2 = np.float32(1.0 / math.sqrt(bc2))
        eps = np.float32(o.eps)
        P, G, M, V = self.flat_p, self.flat_g, self.flat_m, self.flat_v

        def span(lo: int, hi: int) -> None:
            p, g, m, v = P[lo:hi], G[lo:hi], M[lo:hi], V[lo:hi]
            p *= decay
            m *= b1
            m += c1 * g
            v *= b2
            tmp = g * g
            tmp *= c2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp *= inv_sqrt_bc2
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp

        # Split the flat buffer into blocks of 64k so the pool sees many even pieces.
        block = 1 << 16
        n_blocks = -(-self.n_params // block)

        def blocks(lo: int, hi: int) -> None:
            span(lo * block, min(hi * block, self.n_params))

        self._par(blocks, n_blocks, block)

    # ------------------------------------------------------------------ the step
    def _forward_backward(self, tokens: np.ndarray, targets: np.ndarray) -> float:
        """Loss, with every gradient written into ``self.flat_g``."""
        c = self.config
        B, T, d, L = c.batch, c.seq_len, c.d_model, c.n_layer
        N = B * T
        p, g, run = self.p, self.g, self._timers.run
        tok = tokens.reshape(-1)

        x = run("embedding", lambda: (p["wte"][tok].reshape(B, T, d) + p["wpe"]).reshape(N, d))
        saved = []
        for i in range(L):
            pre = f"h{i}."
            a, xh1, r1 = run(
                "layernorm", self._layernorm_fwd, x, p[pre + "ln1.g"], p[pre + "ln1.b"]
            )
            qkv = run("matmul", np.matmul, a, p[pre + "attn.qkv"])
            att, acache = run("attention", self._attention_fwd, qkv.reshape(B, T, 3 * d))
            att = att.reshape(N, d)
            x = x + run("matmul", np.matmul, att, p[pre + "attn.proj"])
            a2, xh2, r2 = run(
                "layernorm", self._layernorm_fwd, x, p[pre + "ln2.g"], p[pre + "ln2.b"]
            )
            h = run("matmul", np.matmul, a2, p[pre + "mlp.fc"])
            gact, sig = run("gelu", self._gelu_fwd, h)
            x = x + run("matmul", np.matmul, gact, p[pre + "mlp.proj"])
            saved.append((a, xh1, r1, acache, att, a2, xh2, r2, h, sig, gact))
        xf, xhf, rf = run("layernorm", self._layernorm_fwd, x, p["lnf.g"], p["lnf.b"])
        logits = run("matmul", np.matmul, xf, p["wte"].T)  # (N, V)
        loss, dlogits = run("cross_entropy", self._cross_entropy, logits, targets.reshape(-1))

        dxf = run("matmul", np.matmul, dlogits, p["wte"])
        run("matmul", np.matmul, dlogits.T, xf, g["wte"])  # tied head's share of dwte
        dx = run("layernorm", self._layernorm_bwd, dxf, xhf, rf, p["lnf.g"], g["lnf.g"], g["lnf.b"])
        for i in reversed(range(L)):
            pre = f"h{i}."
            a, xh1, r1, acache, att, a2, xh2, r2, h, sig, gact = saved[i]
            run("matmul", np.matmul, gact.T, dx, g[pre + "mlp.proj"])
            dg = run("matmul", np.matmul, dx, p[pre + "mlp.proj"].T)
            dh = run("gelu", self._gelu_bwd, dg, h, sig)
            run("matmul", np.matmul, a2.T, dh, g[pre + "mlp.fc"])
            da2 = run("matmul", np.matmul, dh, p[pre + "mlp.fc"].T)
            dx = dx + run(
                "layernorm",
                self._layernorm_bwd,
                da2,
                xh2,
                r2,
                p[pre + "ln2.g"],
                g[pre + "ln2.g"],
                g[pre + "ln2.b"],
            )
            run("matmul", np.matmul, att.T, dx, g[pre + "attn.proj"])
            datt = run("matmul", np.matmul, dx, p[pre + "attn.proj"].T)
            dqkv = run("attention", self._attention_bwd, datt, acache)
            run("matmul", np.matmul, a.T, dqkv, g[pre + "attn.qkv"])
            da = run("matmul", np.matmul, dqkv, p[pre + "attn.qkv"].T)
            dx = dx + run(
                "layernorm",
                self._layernorm_bwd,
                da,
                xh1,
                r1,
                p[pre + "ln1.g"],
                g[pre + "ln1.g"],
                g[pre + "ln1.b"],
            )
        run("embedding", self._embedding_bwd, dx, tok)
        return loss

    def _embedding_bwd(self, dx: np.ndarray, tok: np.ndarray) -> None:
        """dwpe = sum over batch; dwte += one-hot(tokens)^T @ dx (a GEMM beats a scatter-add)."""
        c = self.config
        self.g["wpe"][...] = dx.reshape(c.batch, c.seq_len, c.d_model).sum(axis=0)
        onehot = np.zeros((c.vocab, tok.size), np.float32)
        onehot[tok, np.arange(tok.size)] = 1.0
        self.g["wte"] += onehot @ dx

    def _checked_step(self, tokens: Any, targets: Any) -> float:
        require_loaded(self._loaded)
        tok, tgt = check_batch(self.config, tokens, targets)
        self._set_blas_threads(self.threads)
        return self._forward_backward(tok, tgt)

    # ------------------------------------------------------------------ interface
    def load_params(self, params: dict[str, np.ndarray]) -> None:
        for name, a in check_params(self.config, params).items():
            self.p[name][...] = a
        self.flat_m[:] = 0.0
        self.flat_v[:] = 0.0
        self.step = 0
        self._loaded = True

    def loss_and_grads(self, tokens, targets):  # type: ignore[override]
        loss = self._checked_step(tokens, targets)
        return loss, {n: a.copy() for n, a in self.g.items()}

    def train_step(self, tokens, targets) -> float:  # type: ignore[override]
        loss = self._checked_step(tokens, targets)
        self._timers.run("adamw", self._adamw)
        return loss

    def profile_step(self, tokens, targets) -> dict[str, float]:  # type: ignore[override]
        self._timers.times = {}
        try:
            self.train_step(tokens, targets)
            return dict(self._timers.times)
        finally:
            self._timers.times = None

    def get_params(self) -> dict[str, np.ndarray]:
        return {n: a.copy() for n, a in self.p.items()}

    def describe(self) -> dict[str, Any]:
        blas = [
            f"{lib.internal_api} {lib.version or '?'} ({lib.threading_layer or '?'} threading)"
            for lib in self._blas_libs
        ]
        return {
            "backend": "cpu",
            "device": cpu_model(),
            "cpu": cpu_model(),
            "cores": available_cores(),
            "threads": self.threads,
            "pool_threads": self.pool_size,
            "blas": "; ".join(blas) or "unknown",
            "numpy": np.__version__,
            "attention": self.attention,
            "dtype": "float32",
        }
