"""The step's hot encode loop as direct wgpu-native calls (behind ``Graph``; nothing else uses it).

wgpu-py wraps every call for error capture and builds a dynamic-offset array for each
``set_bind_group``; a step makes three calls per dispatch, so that per-call Python work is most
of its encode time at small sizes. Here a graph slice is first turned into a ``Program`` (raw
pipeline and bind-group handles, grid, whether the pipeline changes), and a pass replays it with
the unwrapped C functions. Errors are not lost: wgpu records an invalid pass command in the
encoder and reports it when the pass ends or the encoder finishes, both still made through
wgpu-py (which raises them).

The readback is left to wgpu-py (a map resolved by its poll thread): polling the device from the
calling thread as well made every step wait far longer on a discrete GPU (results/h200-overhead/).
"""

from __future__ import annotations

from collections.abc import Sequence

from wgpu.backends.wgpu_native._ffi import ffi, lib

Program = list[tuple[object, object, int, int, int]]  # (pipeline or None, bind group, x, y, z)


def program(dispatches: Sequence) -> Program:
    """Raw handles of ``dispatches`` in order; the pipeline only where it changes."""
    out: Program = []
    last = None
    for d in dispatches:
        pipe = d.compiled.pipeline
        out.append(
            (None if pipe is last else pipe._internal, d.bind_group._internal, *d.grid)
        )
        last = pipe
    return out


def replay(compute_pass, prog: Program) -> None:
    """Record ``prog`` into an open compute pass (wgpu-py ``GPUComputePassEncoder``)."""
    raw = compute_pass._internal
    set_pipeline = lib.wgpuComputePassEncoderSetPipeline
    set_group = lib.wgpuComputePassEncoderSetBindGroup
    dispatch = lib.wgpuComputePassEncoderDispatchWorkgroups
    null = ffi.NULL
    for pipe, group, x, y, z in prog:
        if pipe is not None:
            set_pipeline(raw, pipe)
        set_group(raw, 0, group, 0, null)
        dispatch(raw, x, y, z)

