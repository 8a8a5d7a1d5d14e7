"""``mlscope monitor``: the charter in production (docs/monitoring.md).

A production log is cut into windows; each window is compared with a reference split of
the charter's data — input checks (missing values, ranges, new categories, distribution
shift per feature and slice), output checks (score shift, positive rate, missing scores,
user feedback), performance estimated before labels arrive, and back-tested once they do.
"""

from mlscope.monitor.result import (
    SCHEMA,
    BackTest,
    Check,
    Estimate,
    MonitorResult,
    Performance,
    Window,
)
from mlscope.monitor.run import monitor, monitor_frames

__all__ = ["SCHEMA", "BackTest", "Check", "Estimate", "MonitorResult", "Performance",
           "Window", "monitor", "monitor_frames"]
