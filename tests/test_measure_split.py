"""bench.measure.attach_span: the measured split from the timed steps' own device spans."""

from __future__ import annotations

import pytest

from bench.measure import attach_span
from bench.timing import summarize


def test_overhead_is_median_wall_minus_median_span():
    m = summarize([0.010, 0.012, 0.011, 0.013, 0.011])
    attach_span(m, [0.007, 0.008, 0.0075, 0.009, 0.0072], {"matmul": 0.006, "adamw": 0.002})
    assert m.device_s == pytest.approx(0.0075)
    assert m.overhead_s == pytest.approx(0.011 - 0.0075)
    assert m.per_op_s == {"matmul": 0.006, "adamw": 0.002}  # shares only: not summed into device
    assert m.extra["split_from"] == "step span"
    assert m.extra["span_samples"] == [0.007, 0.008, 0.0075, 0.009, 0.0072]


def test_span_longer_than_wall_leaves_overhead_unknown():
    m = summarize([0.010] * 9)  # enough samples for a 95% order-statistic interval
    assert not m.noisy
    attach_span(m, [0.011, 0.012, 0.011] * 3, None)
    assert m.overhead_s is None and m.noisy
    assert m.per_op_s is None
