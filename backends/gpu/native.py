"""The step's hot encode loop as direct wgpu-native calls (behind ``Graph``; nothing else uses it).

wgpu-py wraps every call for error capture and builds a dynamic-offset array for each
``set_bind_group``; a step makes three calls per dispatch, so that per-call Python work is most
of its encode time at small sizes. Here a graph slice is first turned into a ``Program`` (raw
pipeline and bind-group handles, grid, whether the pipeline changes), and a pass replays it with
the unwrapped C functions. Errors are not lost: wgpu records an invalid pass command in the
encoder and reports it when the pass ends or the encoder finishes, both still made through
wgpu-py (which raises them).

The step's readback can be waited for in three ways (``WAITS``): ``thread`` leaves it to wgpu-py (a
map resolved by its per-device poll thread, which then wakes the caller through an event: two
thread hand-offs after the device finishes); ``block`` and ``spin`` map through the raw call
without asking wgpu-py's poll thread to poll, and poll the device from the calling thread
(blocking, or non-blocking in a loop), so the map's callback runs on the caller. Only one thread
ever polls for the step: polling from the calling thread while the poll thread polled too made
every step wait far longer on a discrete GPU (results/h200-overhead/).
"""

from __future__ import annotations

from collections.abc import Sequence

from wgpu.backends.wgpu_native._ffi import ffi, lib

WAITS = ("thread", "block", "spin")

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



class Readback:
    """A MAP_READ buffer read on the calling thread: map, poll until mapped, copy, unmap.

    wgpu-py's own object for the buffer is left unmapped throughout (the map and unmap are raw
    calls), so it must not be mapped through wgpu-py while a ``read`` runs.
    """

    def __init__(self, device, buffer, block: bool) -> None:
        self._device = device._internal
        self._buffer = buffer._internal
        self._block = bool(block)
        self._status: list[int] = []
        status = self._status

        @ffi.callback("void(WGPUMapAsyncStatus, WGPUStringView, void *, void *)")
        def mapped(code, _message, _u1, _u2):
            status.append(int(code))

        self._callback = mapped  # kept alive with the reader
        self._info = ffi.new("WGPUBufferMapCallbackInfo *")
        self._info.mode = lib.WGPUCallbackMode_AllowProcessEvents
        self._info.callback = mapped

    def read(self, size: int) -> bytes:
        """The first ``size`` bytes once every submitted command buffer writing them is done."""
        status = self._status
        status.clear()
        lib.wgpuBufferMapAsync(self._buffer, lib.WGPUMapMode_Read, 0, size, self._info[0])
        poll, device, block, null = lib.wgpuDevicePoll, self._device, self._block, ffi.NULL
        while not status:
            poll(device, block, null)
        if status[0] != lib.WGPUMapAsyncStatus_Success:
            raise RuntimeError(f"could not map the readback buffer (status {status[0]})")
        data = bytes(ffi.buffer(lib.wgpuBufferGetConstMappedRange(self._buffer, 0, size), size))
        lib.wgpuBufferUnmap(self._buffer)
        return data
