"""asv: kernel micro-benchmarks, matmul GFLOP/s per size x variant x form, attention fwd+bwd per
seq_len x variant. Each variant passes its NumPy parity gate (once per asv run) before timing.

asv re-runs ``setup`` before every sample; ``kernel_case`` hands back the same warm case each
time (built once per process), so there is no teardown: the process ends with the benchmark.

Timing: the case has already run once in ``setup`` (pipelines compiled, buffers resident), so a
short warm-up does; one synchronised run per sample (>= ~50 us, far above the timer's
resolution), at least 5 samples and no new one after 1 s. asv's defaults (1 s warm-up, automatic
``number``) cost ~1 s more per point, which over the 72 matmul points is the difference between
fitting a device session or not.
"""

from bench.suites import gpu_variants, kernel_case, kernel_rate

MATMULS, ATTENTIONS = gpu_variants()


class _KernelTiming:
    """asv timing shared by the kernel suites (see the module docstring)."""

    timeout = 120
    rounds = 1  # one process per point (asv's default 2 doubles the run for little)
    number = 1
    warmup_time = 0.2
    repeat = (5, 100, 1.0)


class Matmul(_KernelTiming):
    params = ([256, 1024, 2048, 4096], MATMULS, ["nn", "nt", "tn"])
    param_names = ("size", "variant", "form")

    def setup(self, size, variant, form):
        self.case = kernel_case("matmul", variant, size, form)

    def time_matmul(self, size, variant, form):
        self.case.run()

    def track_gflops(self, size, variant, form):
        return kernel_rate(self.case)

    track_gflops.unit = "GFLOP/s"


class Attention(_KernelTiming):
    params = ([128, 256, 512, 1024, 2048], ATTENTIONS)
    param_names = ("seq_len", "variant")

    def setup(self, seq_len, variant):
        self.case = kernel_case("attention", variant, seq_len)

    def time_fwd_bwd(self, seq_len, variant):
        self.case.run()

    def track_buffer_bytes(self, seq_len, variant):
        return sum(b.size for b in self.case.pool.buffers.values())

    track_buffer_bytes.unit = "bytes"
