"""bench.common: stage-delay quantiles from two scrapes of the worker's histogram."""

from __future__ import annotations

import pytest

from bench.common import stage_delay_buckets, stage_delays_ms

BEFORE = """# TYPE contact_centre_stage_delay_seconds histogram
contact_centre_stage_delay_seconds_bucket{le="60.0",stage="ingest"} 5.0
contact_centre_stage_delay_seconds_bucket{le="300.0",stage="ingest"} 5.0
contact_centre_stage_delay_seconds_bucket{le="+Inf",stage="ingest"} 5.0
contact_centre_stage_delay_seconds_count{stage="ingest"} 5.0
contact_centre_stage_delay_seconds_sum{stage="ingest"} 1.0
"""
AFTER = (
    BEFORE.replace('le="60.0",stage="ingest"} 5.0', 'le="60.0",stage="ingest"} 15.0')
    .replace('le="300.0",stage="ingest"} 5.0', 'le="300.0",stage="ingest"} 105.0')
    .replace('le="+Inf",stage="ingest"} 5.0', 'le="+Inf",stage="ingest"} 106.0')
)


def test_quantiles_of_the_messages_between_two_scrapes_as_histogram_quantile_gives_them() -> None:
    [(stage, delay)] = stage_delays_ms(stage_delay_buckets(BEFORE), stage_delay_buckets(AFTER)).items()
    assert stage == "ingest" and delay["messages"] == 101
    # 10 of 101 within 60 s, 100 within 300 s: the median is interpolated in (60, 300]
    assert delay["p50_ms"] == pytest.approx((60 + 240 * (50.5 - 10) / 90) * 1000)
    assert delay["p99_ms"] == pytest.approx((60 + 240 * (99.99 - 10) / 90) * 1000)
    # With most messages above 300 s, the quantile stops at the highest finite edge.
    slow = AFTER.replace('+Inf",stage="ingest"} 106.0', '+Inf",stage="ingest"} 200.0')
    assert stage_delays_ms({}, stage_delay_buckets(slow))["ingest"]["p99_ms"] == 300_000


def test_a_stage_with_nothing_new_is_left_out() -> None:
    assert stage_delays_ms(stage_delay_buckets(AFTER), stage_delay_buckets(AFTER)) == {}
    assert stage_delay_buckets("") == {}
