"""Float32 CPU backend: the multithreaded CPU half of every curve.

Same maths as ``backends.reference`` (hand-derived backward, torch-style AdamW), arranged for
speed on many cores, with one thread pool (Numba's, ``threads`` wide) doing all the work:

* linear layers are GEMMs over all B*T rows, split into row blocks (weight gradients into column
  blocks) with each thread calling the BLAS single-threaded on its block (``cpu_gemm``);
* attention (``cpu_attention``) runs one (batch, head) group per thread: BLAS calls on 64-row
  tiles plus compiled softmax loops;
* everything else (LayerNorm, GELU, cross-entropy, AdamW, the embedding) is one compiled loop
  per op (``cpu_kernels``), rows spread over the same pool. Compiled loops
  matter twice: each op is one pass instead of NumPy's 5-10, and the threads never wait on the
  GIL (a Python thread pool over NumPy calls stopped scaling at ~4 threads);
* parameters, gradients and Adam moments are single flat arrays (per-name views into them), so
  AdamW is one pass over contiguous memory;
* every activation and temporary of the step lives in a ``Workspace`` allocated by the first
  step and reused by the next ones. Fresh arrays each step cost ~12k page faults per medium step
  (glibc hands large blocks back to the kernel on free), which on a VM is 10-30% of a step.

Why one pool: a multithreaded BLAS beside Numba's pool left one pool's threads spinning while the
other worked (see ``cpu_gemm``); the BLAS is therefore held at one thread during the step.
``profile_step`` times each op with wall-clock timers; their sum is the step's math time and the
rest of the step (Python dispatch, allocation) its fixed overhead.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from backends import cpu_attention, cpu_gemm, model
from backends import cpu_kernels as kern
from backends.base import Backend, BackendError, check_batch, check_params, require_loaded
from backends.host import cpu_model
from backends.model import ModelConfig, OptimConfig, param_shapes

LN_EPS = np.float32(model.LN_EPS)
# LayerNorm backward sums dg/db over this many fixed row chunks (then adds the chunks), so the
# result does not depend on how many threads ran them.
LN_CHUNKS = 16
ATTENTION_VARIANTS = ("naive", "fa2")
VARIANTS = {"attention": ATTENTION_VARIANTS}  # per option: what ``backends.variants("cpu")`` lists

_controller: ThreadpoolController | None = None


class Workspace:
    """Named float32 buffers kept from one step to the next.

    A step asks for the same names with the same shapes every time, so after the first step no
    array is allocated (and no page is faulted in). A name is one buffer: names of values saved
    for the backward carry their layer; per-layer temporaries of the backward share one name.
    """

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        a = self._bufs.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._bufs[name] = np.empty(shape, dtype)
        return a

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {n: a.shape for n, a in self._bufs.items()}


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


def _numba_layer() -> str:
    """Numba's threading layer (omp, tbb or workqueue); chosen at its first parallel call."""
    try:
        return numba.threading_layer()
    except ValueError:
        return "not started"


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
    """Multithreaded float32 training step (BLAS GEMMs plus compiled Numba ops).

    Options: ``threads`` (default: all cores), ``attention`` ("naive" or "fa2", see cpu_kernels).
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
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise BackendError(
                f"threads={threads} exceeds the {numba.config.NUMBA_NUM_THREADS} threads Numba "
                "started with (set NUMBA_NUM_THREADS before starting Python to allow more)"
            )
        if attention not in ATTENTION_VARIANTS:
            raise BackendError(
                f"unknown CPU attention variant {attention!r}; "
                f"known: {', '.join(ATTENTION_VARIANTS)}"
            )
        self.threads = threads
        self.attention = attention
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
        self._ln_parts = np.empty((2, LN_CHUNKS, config.d_model), np.float32)
        self.ws = Workspace()

    # ------------------------------------------------------------------ plumbing
    def _views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        return {n: flat[a:b].reshape(s) for n, (a, b, s) in self._slices.items()}

    def _set_threads(self) -> None:
        """Numba's pool to ``threads`` (a per-calling-thread setting, so set each step) and every
        BLAS to one thread: its calls come from inside that pool."""
        for lib in self._blas_libs:
            lib.set_num_threads(1)
        numba.set_num_threads(self.threads)

    def _mm(self, a: np.ndarray, b: np.ndarray, out: np.ndarray | str,
            b_t: bool = False) -> np.ndarray:
        """a @ b (a @ b.T with ``b_t``) on the pool: into the workspace buffer named ``out``, or
        added into the array ``out`` (the residual stream)."""
        chunks = max(1, min(self.threads, a.shape[0] // 16))
        if isinstance(out, str):
            m = b.shape[0] if b_t else b.shape[1]
            res = self.ws.get(out, (a.shape[0], m))
            cpu_gemm.matmul(a, b, b_t, res, np.float32(0), chunks)
            return res
        cpu_gemm.matmul(a, b, b_t, out, np.float32(1), chunks)
        return out

    def _mm_tn(self, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        """out = a^T @ b (a weight gradient), in column blocks of ``out``."""
        chunks = max(1, min(self.threads, b.shape[1] // cpu_gemm.COL_ALIGN))
        cpu_gemm.matmul_tn(a, b, out, chunks)

    def close(self) -> None:
        """Nothing to release: the BLAS and Numba pools are process-wide."""

    # ------------------------------------------------------------------ ops
    def _layernorm_fwd(self, name: str, x: np.ndarray, g: np.ndarray, b: np.ndarray):
        """x (N, d) -> y, xhat, rstd (N,), in the workspace under ``name``."""
        y = self.ws.get(name + ".y", x.shape)
        xhat = self.ws.get(name + ".xhat", x.shape)
        rstd = self.ws.get(name + ".rstd", x.shape[:1])
        kern.layernorm_fwd(x, g, b, LN_EPS, y, xhat, rstd)
        return y, xhat, rstd

    def _layernorm_bwd(self, dy, xhat, rstd, g, dg_out, db_out, dx: np.ndarray | str):
        """dx into the workspace buffer named ``dx``, or added into the array ``dx`` (the residual
        stream); writes dg, db."""
        parts_g, parts_b = self._ln_parts
        accumulate = not isinstance(dx, str)
        if isinstance(dx, str):
            dx = self.ws.get(dx, dy.shape)
        kern.layernorm_bwd(dy, xhat, rstd, g, dx, parts_g, parts_b, accumulate)
        parts_g.sum(axis=0, out=dg_out)
        parts_b.sum(axis=0, out=db_out)
        return dx

    def _gelu_fwd(self, name: str, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self.ws.get(name + ".out", h.shape)
        sig = self.ws.get(name + ".sig", h.shape)
        kern.gelu_fwd(h, out, sig)
        return out, sig

    def _gelu_bwd(self, dy: np.ndarray, h: np.ndarray, sig: np.ndarray) -> np.ndarray:
        dh = self.ws.get("gelu.dh", h.shape)
        kern.gelu_bwd(dy, h, sig, dh)
        return dh

    def _attention_fwd(self, name: str, qkv: np.ndarray):
        """qkv (N, 3d) -> out (N, d); saves P (naive, (B*H, T, T)) or the row LSE (fa2)."""
        c = self.config
        B, T, H = c.batch, c.seq_len, c.n_head
        out = self.ws.get(name + ".out", (B * T, c.d_model))
        scale = np.float32(1.0 / math.sqrt(c.head_dim))
        if self.attention == "naive":
            saved = self.ws.get(name + ".p", (B * H, T, T))
            cpu_attention.naive_fwd(qkv, B, H, scale, out, saved)
        else:
            saved = self.ws.get(name + ".lse", (B * H, T))
            cpu_attention.fa2_fwd(qkv, B, H, scale, out, saved)
        return out, (qkv, out, saved)

    def _attention_bwd(self, dout: np.ndarray, cache) -> np.ndarray:
        qkv, out, saved = cache
        c = self.config
        scale = np.float32(1.0 / math.sqrt(c.head_dim))
        dqkv = self.ws.get("attn.dqkv", qkv.shape)
        if self.attention == "naive":
            cpu_attention.naive_bwd(qkv, dout, saved, c.batch, c.n_head, scale, dqkv)
        else:
            cpu_attention.fa2_bwd(qkv, dout, out, saved, c.batch, c.n_head, scale, dqkv)
        return dqkv

    def _cross_entropy(self, logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean CE over rows; turns ``logits`` (N, V) into dlogits in place and returns the loss."""
        losses = self.ws.get("ce.losses", logits.shape[:1], np.float64)
        kern.cross_entropy(logits, targets, losses)
        return float(losses.mean()), logits

    def _adamw(self) -> None:
        o = self.optim
        self.step += 1
        bc1 = 1.0 - o.beta1**self.step
        bc2 = 1.0 - o.beta2**self.step
        f = np.float32
        kern.adamw(
            self.flat_p, self.flat_g, self.flat_m, self.flat_v,
            f(1.0 - o.lr * o.weight_decay), f(o.beta1), f(o.beta2),
            f(1.0 - o.beta1), f(1.0 - o.beta2),
            f(o.lr / bc1), f(1.0 / math.sqrt(bc2)), f(o.eps),
        )

    # ------------------------------------------------------------------ the step
    def _forward_backward(self, tokens: np.ndarray, targets: np.ndarray) -> float:
        """Loss, with every gradient written into ``self.flat_g``."""
        c = self.config
        N, d, L = c.batch * c.seq_len, c.d_model, c.n_layer
        p, g, run = self.p, self.g, self._timers.run
        mm, tn, ln = self._mm, self._mm_tn, self._layernorm_fwd

        x = self.ws.get("x", (N, d))
        run("embedding", kern.embed_fwd, tokens, p["wte"], p["wpe"], x)
        saved = []
        for i in range(L):
            pre = f"h{i}."
            a, xh1, r1 = run("layernorm", ln, pre + "ln1", x, p[pre + "ln1.g"], p[pre + "ln1.b"])
            qkv = run("matmul", mm, a, p[pre + "attn.qkv"], pre + "qkv")
            att, acache = run("attention", self._attention_fwd, pre + "attn", qkv)
            run("matmul", mm, att, p[pre + "attn.proj"], x)
            a2, xh2, r2 = run("layernorm", ln, pre + "ln2", x, p[pre + "ln2.g"], p[pre + "ln2.b"])
            h = run("matmul", mm, a2, p[pre + "mlp.fc"], pre + "fc")
            gact, sig = run("gelu", self._gelu_fwd, pre + "gelu", h)
            run("matmul", mm, gact, p[pre + "mlp.proj"], x)
            saved.append((a, xh1, r1, acache, att, a2, xh2, r2, h, sig, gact))
        xf, xhf, rf = run("layernorm", ln, "lnf", x, p["lnf.g"], p["lnf.b"])
        logits = run("matmul", mm, xf, p["wte"], "logits", True)  # (N, V) = xf @ wte^T
        loss, dlogits = run("cross_entropy", self._cross_entropy, logits, targets.reshape(-1))

        dxf = run("matmul", mm, dlogits, p["wte"], "dxf")
        run("matmul", tn, dlogits, xf, g["wte"])  # the tied head's share of dwte
        lnf = (p["lnf.g"], g["lnf.g"], g["lnf.b"])
        dx = run("layernorm", self._layernorm_bwd, dxf, xhf, rf, *lnf, "dx")
        for i in reversed(range(L)):
            pre = f"h{i}."
            a, xh1, r1, acache, att, a2, xh2, r2, h, sig, gact = saved[i]
            run("matmul", tn, gact, dx, g[pre + "mlp.proj"])
            dg = run("matmul", mm, dx, p[pre + "mlp.proj"], "dgact", True)
            dh = run("gelu", self._gelu_bwd, dg, h, sig)
            run("matmul", tn, a2, dh, g[pre + "mlp.fc"])
            da2 = run("matmul", mm, dh, p[pre + "mlp.fc"], "da2", True)
            ln2 = (p[pre + "ln2.g"], g[pre + "ln2.g"], g[pre + "ln2.b"])
            run("layernorm", self._layernorm_bwd, da2, xh2, r2, *ln2, dx)
            run("matmul", tn, att, dx, g[pre + "attn.proj"])
            datt = run("matmul", mm, dx, p[pre + "attn.proj"], "datt", True)
            dqkv = run("attention", self._attention_bwd, datt, acache)
            run("matmul", tn, a, dqkv, g[pre + "attn.qkv"])
            da = run("matmul", mm, dqkv, p[pre + "attn.qkv"], "da", True)
            ln1 = (p[pre + "ln1.g"], g[pre + "ln1.g"], g[pre + "ln1.b"])
            run("layernorm", self._layernorm_bwd, da, xh1, r1, *ln1, dx)
        run("embedding", kern.embed_bwd, tokens, dx, g["wte"], g["wpe"])
        return loss

    def _checked_step(self, tokens: Any, targets: Any) -> float:
        require_loaded(self._loaded)
        tok, tgt = check_batch(self.config, tokens, targets)
        self._set_threads()
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
            "compiled_ops": f"numba {numba.__version__} ({_numba_layer()} threading)",
            "blas": "; ".join(blas) or "unknown",
            "numpy": np.__version__,
            "attention": self.attention,
            "dtype": "float32",
        }
