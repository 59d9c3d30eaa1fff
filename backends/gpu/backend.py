"""GpuBackend: the training step in WGSL kernels through wgpu, resident on the device.

A ``train_step`` is ``pieces`` command buffers, each submitted as soon as it is encoded, so the
device runs the first layers while the host encodes the rest (``piece_growth`` > 1 makes the first
piece short and each next one longer; ``piece_taper`` shrinks them again towards the last). The
queue orders a ``write_buffer`` before every later submission and after every earlier one, which
the step uses to keep writes off the path to the first submit: only the tokens and targets go up
before it; the token grouping the embedding's backward reads goes up just before the piece that
holds that backward, and AdamW's step terms for the *next* step go up once this step's last piece
is submitted (its own were written by the step before, or before its first piece when no step
before wrote them). The only readback is the loss (and, with ``timestamps=True``, the step's device
span: a timestamp at the beginning of the first pass and one at the end of the last, resolved into
the same 32-byte readback), waited for as ``wait`` says (``backends.gpu.native``). ``marks=True``
records host clock marks inside each step (``last_marks_s``). ``loss_and_grads`` reads the
gradients back too (it is for tests).
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import numpy as np
import wgpu

from backends.base import Backend, BackendError, check_batch, check_params
from backends.gpu import native
from backends.gpu.buffers import BufferPool, FlatLayout, View
from backends.gpu.device import get_device
from backends.gpu.graph import Piece, per_kernel_seconds
from backends.gpu.pipelines import pipelines_for
from backends.gpu.step import StepGraph, activation_sizes
from backends.model import ModelConfig, OptimConfig, init_params, param_shapes
from kernels import registry

_READBACK = wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST
# wgpu-py's map for READ first submits an empty command buffer (a workaround for wgpu-native
# issue 305, reading a buffer no submission has touched yet). Our readback buffers are always
# written by the step's own submission just before the map, so we use wgpu-py's internal
# "READ_NOSYNC" mode (wgpu is pinned) and keep the step at exactly its own submits.
_MAP_READ = "READ_NOSYNC"
# Readback layout: the loss (f32) at 0; with timestamps, the span's two u64 ticks at 8.
_READBACK_BYTES = 32
_SPAN_AT = 8
# The cut of a step unless the caller says: 5 pieces growing 2-fold to the middle and shrinking
# again (1:2:4:2:1). On a discrete GPU it walled as fast as 4 even pieces from tiny to xl while
# the device started sooner and had less left after the last submit (a shorter host gap); 8 even
# pieces added more passes than they hid (results/h200-overhead/, results/h200/).
DEFAULT_PIECES = 5
DEFAULT_GROWTH = 2.0
DEFAULT_TAPER = True
# The readback's wait unless the caller says: on a hardware adapter, the calling thread polls in a
# loop (the step's wake-up without wgpu-py's poll thread and event hand-offs); on a software
# adapter, whose "device" runs on the host's cores, a spinning caller would take a core from it,
# so wgpu-py's poll thread waits instead (results/h200-overhead/).
WAIT_HARDWARE, WAIT_SOFTWARE = "spin", "thread"
# The host clock marks of a step with ``marks=True``, in order (seconds after "enter").
MARKS = ("enter", "written", "encoded0", "submitted0", "submitted", "ahead", "mapped", "return")


def check_limits(
    config: ModelConfig, dev, attention: registry.AttentionVariant, n_params_padded: int
) -> None:
    """Refuse, up front and naming the limit, a config the device or a kernel cannot run."""
    if config.head_dim > attention.max_head_dim:
        raise BackendError(
            f"attention {attention.name!r} supports head_dim <= {attention.max_head_dim}; "
            f"config has head_dim {config.head_dim} (d_model {config.d_model} / n_head "
            f"{config.n_head})"
        )
    if config.seq_len > attention.max_seq_len:
        raise BackendError(
            f"attention {attention.name!r} supports seq_len <= "
            f"{attention.max_seq_len}; config has seq_len {config.seq_len}"
        )
    bind_max = dev.limits.get("max-storage-buffer-binding-size", 1 << 27)
    buf_max = dev.limits.get("max-buffer-size", 1 << 28)
    sizes = dict(activation_sizes(config, attention), params=n_params_padded)
    name, floats = max(sizes.items(), key=lambda kv: kv[1])
    nbytes = 4 * floats
    for limit_name, limit in (
        ("max-storage-buffer-binding-size", bind_max),
        ("max-buffer-size", buf_max),
    ):
        if nbytes > limit:
            raise BackendError(
                f"config {config.label()} needs a {nbytes / 2**20:.0f} MiB buffer ({name}); "
                f"device limit {limit_name} is {limit / 2**20:.0f} MiB"
            )
    groups = dev.limits.get("max-compute-workgroups-per-dimension", 65535)
    if config.batch * config.n_head > groups:
        raise BackendError(
            f"batch*n_head = {config.batch * config.n_head} exceeds the device "
            f"limit max-compute-workgroups-per-dimension = {groups}"
        )


class GpuBackend(Backend):
    """The GPT of ``bench.model`` trained by WGSL kernels on one WebGPU adapter."""

    name = "gpu"

    def __init__(
        self,
        config: ModelConfig,
        *,
        matmul: str = "auto",  # per call, the fastest candidate measured on this device
        attention: str = "naive",
        adapter: str | None = None,
        optim: OptimConfig | None = None,
        timestamps: bool = False,
        pieces: int = DEFAULT_PIECES,
        piece_growth: float = DEFAULT_GROWTH,
        piece_taper: bool = DEFAULT_TAPER,
        wait: str | None = None,  # WAIT_HARDWARE or WAIT_SOFTWARE by the adapter's type
        marks: bool = False,
        tune: str | None = None,
    ) -> None:
        super().__init__(config, optim=optim)
        if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
            raise BackendError(f"pieces must be a whole number >= 1, got {pieces!r}")
        if (
            isinstance(piece_growth, bool)
            or not isinstance(piece_growth, int | float)
            or not 1 <= piece_growth <= 16
        ):
            raise BackendError(f"piece_growth must be a number in 1..16, got {piece_growth!r}")
        if not isinstance(piece_taper, bool):
            raise BackendError(f"piece_taper must be True or False, got {piece_taper!r}")
        if wait is not None and wait not in native.WAITS:
            raise BackendError(f"wait must be one of {', '.join(native.WAITS)}, got {wait!r}")
        try:
            self.matmul = registry.matmul_variant(matmul)
            self.attention = registry.attention_variant(attention)
        except registry.VariantError as e:
            raise BackendError(str(e)) from None
        self.tuner = None
        if self.matmul.choose is not None:  # ``auto``: by measurement on this device, cached
            from dataclasses import replace

            from backends.gpu.autotune import MatmulTuner

            self.tuner = MatmulTuner(adapter, tune)
            self.matmul = replace(self.matmul, choose=self.tuner.choose)
        self.adapter = adapter
        self.dev = get_device(adapter, want_timestamps=timestamps)
        self.timestamps = timestamps and "timestamp-query" in self.dev.features

        check_limits(config, self.dev, self.attention, FlatLayout(param_shapes(config)).total)
        device = self.dev.device
        self.pool = BufferPool(device)
        dummies = {
            "read": self.pool.floats("dummy_read", 4),
            "read_write": self.pool.floats("dummy_rw", 4),
        }
        self.step_graph = StepGraph(
            config, self.pool, pipelines_for(self.dev), self.matmul, self.attention, dummies
        )
        self.readback = device.create_buffer(
            label="loss_readback", size=_READBACK_BYTES, usage=_READBACK
        )
        if wait is None:
            wait = WAIT_SOFTWARE if self.dev.software else WAIT_HARDWARE
        self.wait = wait
        self._reader = (
            None if wait == "thread" else native.Readback(device, self.readback, wait == "block")
        )
        self.step = 0
        self._adam_for: int | None = None  # the step whose AdamW terms the uniform holds
        self.marks = bool(marks)
        self.last_marks_s: dict[str, float] | None = None
        self.piece_growth = float(piece_growth)
        self.piece_taper = piece_taper
        sg = self.step_graph
        graph = sg.graph
        # the pieces of a training step and of a gradients-only step, cut once, and the piece
        # before whose submit the batch's tail must be written (the first that reads it)
        self._pieces = {
            True: graph.pieces(graph.dispatches, pieces, self.piece_growth, piece_taper),
            False: graph.pieces(sg.grad_dispatches, pieces, self.piece_growth, piece_taper),
        }
        self._tail_piece = {
            k: next(
                i for i, p in enumerate(v) if any(sg.reads_batch_tail(d) for d in p.dispatches)
            )
            for k, v in self._pieces.items()
        }
        self.last_span_s: float | None = None  # device span of the last unprofiled step
        self._query_set = None
        if self.timestamps:
            self._span_set = device.create_query_set(
                label="step_span", type=wgpu.QueryType.timestamp, count=2
            )
            self._span_stamps = device.create_buffer(
                label="step_span",
                size=16,
                usage=wgpu.BufferUsage.QUERY_RESOLVE | wgpu.BufferUsage.COPY_SRC,
            )
            n = 2 * len(self.step_graph.graph.dispatches)
            self._query_set = device.create_query_set(
                label="step_timestamps", type=wgpu.QueryType.timestamp, count=n
            )
            self._stamps = device.create_buffer(
                label="timestamps",
                size=8 * n,
                usage=wgpu.BufferUsage.QUERY_RESOLVE | wgpu.BufferUsage.COPY_SRC,
            )
            self._stamps_read = device.create_buffer(
                label="timestamps_readback", size=8 * n, usage=_READBACK
            )
        self._writes = {k: self._span_writes(len(v)) for k, v in self._pieces.items()}
        self.load_params(init_params(config, 0))

    # parameters ----------------------------------------------------------------------------
    def load_params(self, params: dict[str, np.ndarray]) -> None:
        params = check_params(self.config, params)
        sg, q = self.step_graph, self.dev.device.queue
        q.write_buffer(sg.params.buffer, 0, sg.layout.pack(params))
        # Gradients and moments start at zero (and the padding between tensors stays zero). The
        # step never zeroes gradients again: each is stored by the one kernel that makes it.
        enc = self.dev.device.create_command_encoder(label="load_params")
        for v in (sg.grads, sg.m, sg.v):
            enc.clear_buffer(v.buffer)
        q.submit([enc.finish()])
        self.step = 0

    def get_params(self) -> dict[str, np.ndarray]:
        return self._read_flat(self.step_graph.params)

    def _read_flat(self, view: View) -> dict[str, np.ndarray]:
        raw = self.dev.device.queue.read_buffer(view.buffer)
        return self.step_graph.layout.unpack(np.frombuffer(raw, np.float32))

    # steps ---------------------------------------------------------------------------------
    def _write_adam(self, step: int) -> None:
        """AdamW's terms for ``step`` (1-based) into its uniform, ordered before later submits."""
        o = self.optim
        sg = self.step_graph
        sg.graph.write_uniform(
            sg.adamw, sg.adam_values(step, o.lr, o.beta1, o.beta2, o.eps, o.weight_decay)
        )
        self._adam_for = step

    def _read_loss(self, span: bool, marks: list[float] | None = None) -> float:
        """Wait for the step, read the loss (and the span's timestamps when ``span``)."""
        n = _READBACK_BYTES if span else 4
        if self._reader is not None:
            raw = self._reader.read(n)
        else:
            self.readback.map_sync(_MAP_READ, 0, n)
            raw = self.readback.read_mapped(0, n)
            self.readback.unmap()
        if marks is not None:
            marks.append(perf_counter())
        loss = float(np.frombuffer(raw, np.float32, 1)[0])
        if span:
            t0, t1 = np.frombuffer(raw, np.uint64, 2, _SPAN_AT).astype(np.int64)
            self.last_span_s = max(int(t1 - t0), 0) * 1e-9
        return loss

    def _run(self, tokens, targets, train: bool) -> float:
        marks = [perf_counter()] if self.marks else None
        tokens, targets = check_batch(self.config, tokens, targets)
        sg, device = self.step_graph, self.dev.device
        graph, queue, batch = sg.graph, device.queue, sg.batch_buf.buffer
        queue.write_buffer(batch, 0, sg.batch.pack_head(tokens, targets))
        if train and self._adam_for != self.step + 1:
            self._write_adam(self.step + 1)
        if marks is not None:
            marks.append(perf_counter())
        pieces: list[Piece] = self._pieces[train]
        tail_piece = self._tail_piece[train]
        loss_buf = sg.act["LOSS"].buffer
        span = self.timestamps
        writes = self._writes[train]
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            enc = device.create_command_encoder(label=piece.label)
            graph.encode_piece(enc, piece, writes[i])
            if i == last:
                enc.copy_buffer_to_buffer(loss_buf, 0, self.readback, 0, 4)
                if span:
                    enc.resolve_query_set(self._span_set, 0, 2, self._span_stamps, 0)
                    enc.copy_buffer_to_buffer(self._span_stamps, 0, self.readback, _SPAN_AT, 16)
            if i == 0 and marks is not None:
                marks.append(perf_counter())
            if i == tail_piece:
                queue.write_buffer(batch, 4 * sg.batch.tail_at, sg.batch.pack_tail(tokens))
            queue.submit([enc.finish()])
            if i == 0 and marks is not None:
                marks.append(perf_counter())
        if marks is not None:
            marks.append(perf_counter())
        if train:
            self._write_adam(self.step + 2)  # the next step's, while the device runs this one
        if marks is not None:
            marks.append(perf_counter())
        loss = self._read_loss(span, marks)
        if train:
            self.step += 1
        if marks is not None:
            marks.append(perf_counter())
            self.last_marks_s = {k: t - marks[0] for k, t in zip(MARKS, marks, strict=True)}
        return loss

    def _span_writes(self, n: int) -> list[dict | None]:
        """Each piece's timestamp writes: the span starts in the first, ends in the last."""
        if not self.timestamps:
            return [None] * n
        writes: list[dict | None] = [None] * n
        writes[0] = {"query_set": self._span_set, "beginning_of_pass_write_index": 0}
        writes[-1] = {**(writes[-1] or {"query_set": self._span_set}), "end_of_pass_write_index": 1}
        return writes

    def _run_profiled(self, tokens, targets) -> float:
        """A training step in one command buffer, one timed pass per dispatch."""
        tokens, targets = check_batch(self.config, tokens, targets)
        sg, device = self.step_graph, self.dev.device
        device.queue.write_buffer(sg.batch_buf.buffer, 0, sg.batch.pack(tokens, targets))
        if self._adam_for != self.step + 1:
            self._write_adam(self.step + 1)
        enc = device.create_command_encoder(label="train_step.profiled")
        sg.graph.encode(enc, sg.graph.dispatches, query_set=self._query_set)
        enc.copy_buffer_to_buffer(sg.act["LOSS"].buffer, 0, self.readback, 0, 4)
        n = 2 * len(sg.graph.dispatches)
        enc.resolve_query_set(self._query_set, 0, n, self._stamps, 0)
        enc.copy_buffer_to_buffer(self._stamps, 0, self._stamps_read, 0, 8 * n)
        device.queue.submit([enc.finish()])
        loss = self._read_loss(span=False)
        self.step += 1
        return loss

    def loss_and_grads(self, tokens, targets) -> tuple[float, dict[str, np.ndarray]]:
        loss = self._run(tokens, targets, train=False)
        return loss, self._read_flat(self.step_graph.grads)

    def train_step(self, tokens, targets) -> float:
        return self._run(tokens, targets, train=True)

    def profile_step(self, tokens, targets) -> dict[str, float] | None:
        """One training step timed per kernel on the device: ``{label: seconds}``, summed by label.

        Labels are registry kernel names, with the form for matmuls (``matmul_tiled16:nt``).
        Each kernel runs in its own timed compute pass, so the sum is device busy time without
        the inter-dispatch gaps of the fused single-pass step. ``None`` unless the backend was
        created with ``timestamps=True`` on an adapter offering ``timestamp-query``.
        """
        if not self.timestamps:
            return None
        self._run_profiled(tokens, targets)
        n = 2 * len(self.step_graph.graph.dispatches)
        self._stamps_read.map_sync(_MAP_READ, 0, 8 * n)
        stamps = np.frombuffer(self._stamps_read.read_mapped(0, 8 * n), np.uint64).copy()
        self._stamps_read.unmap()
        labels = [d.label for d in self.step_graph.graph.dispatches]
        return per_kernel_seconds(labels, stamps)

    # description ---------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        if self.timestamps:
            ts = "on"
        elif "timestamp-query" in self.dev.adapter.features:
            ts = "off (create with timestamps=True)"
        else:
            ts = "unavailable: adapter lacks timestamp-query"
        sg = self.step_graph
        return {
            "name": "gpu",
            **self.dev.info(),  # adapter, vendor, adapter_type, backend (Vulkan...), driver, ...
            "device": self.dev.info()["adapter"],
            "matmul": self.matmul.name,
            "attention": self.attention.name,
            "kernel_variants": {"matmul": self.matmul.name, "attention": self.attention.name},
            "known_variants": registry.variants(),
            "matmul_fallbacks": list(sg.fallbacks),
            "matmul_choices": dict(sg.choices),  # "form MxNxK" -> variant (" splitS": split-K)
            "matmul_tuning": self.tuner.describe() if self.tuner else None,
            "dispatches_per_step": len(sg.graph.dispatches),
            "command_buffers_per_step": len(self._pieces[True]),
            "piece_sizes": [len(p.dispatches) for p in self._pieces[True]],
            "wait": self.wait,
            "timestamps": ts,
            # the device span of each unprofiled step (``last_span_s``) needs the timestamps
            "step_span": "on" if self.timestamps else "off",
            "buffer_bytes": self.pool.total_bytes(),
        }

    def settle_device(self) -> dict[str, Any] | None:
        """The FMA probe until the GPU runs at full speed (``microbench.settle``); None on a
        software adapter."""
        from backends.gpu.microbench import settle

        return settle(self.adapter)

    def close(self) -> None:
        for buf in self.pool.buffers.values():
            buf.destroy()
        self.pool.buffers.clear()
