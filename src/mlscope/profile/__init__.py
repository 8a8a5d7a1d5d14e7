"""``mlscope profile``: latency, throughput and memory of model artifacts (software metrics).

The statistics (:mod:`.statistics`) are pure functions of raw latencies; the runners
(:mod:`.runners`) generate the load of each scenario; :mod:`.loaders` turns an artifact
into a predict function; :mod:`.memory` measures peak memory in a child process and
fingerprints the machine; :mod:`.session` runs the scenarios for one model. See
docs/profiling.md.
"""

from mlscope.profile.statistics import (
    PercentileEstimate,
    RatioEstimate,
    WarmUp,
    detect_warmup,
    min_calls_for_upper_bound,
    nearest_rank,
    percentile_estimate,
    ratio_interval,
    run_length,
)

__all__ = [
    "PercentileEstimate",
    "RatioEstimate",
    "WarmUp",
    "detect_warmup",
    "min_calls_for_upper_bound",
    "nearest_rank",
    "percentile_estimate",
    "ratio_interval",
    "run_length",
]
