"""PyTorch peer: the same GPT in PyTorch, the curve a user draws against "what I'd use instead".

Optional (only when torch is installed) and deliberately idiomatic: autograd for the backward,
``F.scaled_dot_product_attention`` for attention, ``torch.optim.AdamW`` for the update. That makes
it both the strongest simple peer and, in the tests, an oracle independent of the hand-derived NumPy
code. Float32 with TF32 off, so its numbers are comparable with the float32 backends.

Options: ``device`` ("cpu" or "cuda"), ``graph`` (CUDA only: capture the whole step, forward,
backward and AdamW, in one CUDA graph), ``threads`` (CPU intra-op threads; default all cores).
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np

from backends.base import Backend, BackendError, check_batch, check_params, require_loaded
from backends.model import LN_EPS, ModelConfig, OptimConfig, param_shapes

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the registry turns this into "backend 'torch' is unavailable"
    raise ImportError("PyTorch is not installed (pip install torch)") from None


def _forward(p: dict[str, torch.Tensor], tokens: torch.Tensor, targets: torch.Tensor, c) -> Any:
    """The model of DESIGN.md: pre-LN blocks, tanh GELU, causal MHA, tied unembedding, mean CE."""
    B, T = tokens.shape
    d, H = c.d_model, c.n_head
    x = p["wte"][tokens] + p["wpe"][:T]
    for i in range(c.n_layer):
        pre = f"h{i}."
        a = F.layer_norm(x, (d,), p[pre + "ln1.g"], p[pre + "ln1.b"], LN_EPS)
        q, k, v = (a @ p[pre + "attn.qkv"]).split(d, dim=-1)
        q, k, v = (t.view(B, T, H, d // H).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + att.transpose(1, 2).reshape(B, T, d) @ p[pre + "attn.proj"]
        a2 = F.layer_norm(x, (d,), p[pre + "ln2.g"], p[pre + "ln2.b"], LN_EPS)
        x = x + F.gelu(a2 @ p[pre + "mlp.fc"], approximate="tanh") @ p[pre + "mlp.proj"]
    xf = F.layer_norm(x, (d,), p["lnf.g"], p["lnf.b"], LN_EPS)
    logits = xf @ p["wte"].T
    return F.cross_entropy(logits.view(-1, c.vocab), targets.view(-1))


class TorchBackend(Backend):
    name = "torch"

    def __init__(
        self,
        config: ModelConfig,
        *,
        device: str = "cpu",
        graph: bool = False,
        threads: int | None = None,
        optim: OptimConfig | None = None,
    ) -> None:
        super().__init__(config, optim=optim)
        if device not in ("cpu", "cuda"):
            raise BackendError(f"torch device must be 'cpu' or 'cuda', got {device!r}")
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendError("torch device 'cuda' requested but torch sees no CUDA device")
        if graph and device != "cuda":
            raise BackendError("graph=True (CUDA graph capture) needs device='cuda'")
        if threads is not None:
            if not isinstance(threads, int) or threads < 1:
                raise BackendError(f"threads must be a positive int, got {threads!r}")
            torch.set_num_threads(threads)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        self.device = torch.device(device)
        self.graph = graph
        self.threads = threads if threads is not None else torch.get_num_threads()
        self.params: dict[str, torch.Tensor] = {}
        self.opt: torch.optim.Optimizer | None = None
        self._cuda_graph = None
        self._static: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def load_params(self, params: dict[str, np.ndarray]) -> None:
        checked = check_params(self.config, params)
        self.params = {
            n: torch.tensor(np.asarray(checked[n], np.float32), device=self.device).requires_grad_()
            for n in param_shapes(self.config)
        }
        o = self.optim
        self.opt = torch.optim.AdamW(
            list(self.params.values()),
            lr=o.lr,
            betas=(o.beta1, o.beta2),
            eps=o.eps,
            weight_decay=o.weight_decay,
            capturable=self.graph,
        )
        self._cuda_graph = None

    def _tensors(self, tokens: Any, targets: Any) -> tuple[torch.Tensor, torch.Tensor]:
        require_loaded(bool(self.params))
        tok, tgt = check_batch(self.config, tokens, targets)
        return (torch.from_numpy(tok).to(self.device), torch.from_numpy(tgt).to(self.device))

    def loss_and_grads(self, tokens, targets):  # type: ignore[override]
        tok, tgt = self._tensors(tokens, targets)
        for t in self.params.values():
            t.grad = None
        loss = _forward(self.params, tok, tgt, self.config)
        loss.backward()
        grads = {n: t.grad.detach().cpu().numpy().copy() for n, t in self.params.items()}
        return float(loss.item()), grads

    def _eager_step(self, tok: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        self.opt.zero_grad(set_to_none=not self.graph)
        loss = _forward(self.params, tok, tgt, self.config)
        loss.backward()
        self.opt.step()
        return loss

    def train_step(self, tokens, targets) -> float:  # type: ignore[override]
        tok, tgt = self._tensors(tokens, targets)
        if not self.graph:
            return float(self._eager_step(tok, tgt).item())
        if self._cuda_graph is None:
            self._capture(tok, tgt)
        s_tok, s_tgt, s_loss = self._static
        s_tok.copy_(tok)
        s_tgt.copy_(tgt)
        self._cuda_graph.replay()
        return float(s_loss.item())

    def _capture(self, tok: torch.Tensor, tgt: torch.Tensor) -> None:
        """Whole-step capture (PyTorch's recipe): warm up on a side stream, then record once.

        The warm-up steps are real AdamW steps; they run on a copy of the starting point that is
        restored afterwards, so the captured trajectory begins where load_params left it.
        """
        start = {n: t.detach().clone() for n, t in self.params.items()}
        s_tok, s_tgt = tok.clone(), tgt.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._eager_step(s_tok, s_tgt)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            s_loss = self._eager_step(s_tok, s_tgt)
        with torch.no_grad():
            for n, t in self.params.items():
                t.copy_(start[n])
            for state in self.opt.state.values():
                for v in state.values():
                    v.zero_()
        self._cuda_graph, self._static = graph, (s_tok, s_tgt, s_loss)

    def get_params(self) -> dict[str, np.ndarray]:
        require_loaded(bool(self.params))
        return {n: t.detach().cpu().numpy().copy() for n, t in self.params.items()}

    def settle_device(self) -> dict[str, Any] | None:
        """On CUDA, square float32 matmuls until the GPU runs them at full speed
        (``backends.clocks.settle``): the CUDA peers share the GPU, and its clocks, with ours."""
        if self.device.type != "cuda":
            return None
        from backends import clocks

        a = torch.randn(4096, 4096, device=self.device)
        torch.cuda.synchronize(self.device)

        def run() -> float:
            t0 = time.perf_counter()
            a @ a
            torch.cuda.synchronize(self.device)
            return time.perf_counter() - t0

        return clocks.settle(run, f"torch mm {torch.cuda.get_device_name(self.device)}")

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "backend": "torch",
            "torch": torch.__version__,
            "torch_device": self.device.type,
            "graph": self.graph,
            "threads": self.threads,
            "tf32": False,
        }
        if self.device.type == "cuda":
            info["device"] = torch.cuda.get_device_name(self.device)
            info["cuda"] = torch.version.cuda
        else:
            info["device"] = platform.processor() or platform.machine()
        return info
