"""The software metrics: figures of a model measured by ``mlscope profile``, not from rows.

A software metric is named in the charter's ``metrics:`` like any metric
(``- latency_p99_ms``) and used by the selection rules, the requirements and the gates;
its value is one figure per model, read from the stored ``profile.json``
(:mod:`mlscope.data.profile_results`), not computed from the evaluation's statistics.
This module is the vocabulary the charter checks names against; it reads no file.
See docs/profiling.md, "Profile figures as metrics".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SOFTWARE_METRICS", "SoftwareMetric", "is_software_metric"]


@dataclass(frozen=True)
class SoftwareMetric:
    """One software metric: where its figure lies in a model's ``profile.json`` entry.

    Attributes
    ----------
    name
        The metric's name in the charter, e.g. ``"latency_p99_ms"``.
    direction
        ``"lower"`` (latency, memory, size) or ``"higher"`` (throughput) is better.
    label
        Short human name for reports.
    description
        What the figure is, for the result's metric list.
    percentile
        For a latency: the single-stream percentile key (``"p99"``), whose two-sided
        order-statistic interval becomes the value's interval.
    """

    name: str
    direction: Literal["higher", "lower"]
    label: str
    description: str
    percentile: str | None = None


def _latency(p: int) -> SoftwareMetric:
    return SoftwareMetric(
        name=f"latency_p{p}_ms", direction="lower", label=f"p{p} latency (ms)",
        description=(f"single-stream {p}th-percentile latency of one prediction, in "
                     "milliseconds, with its distribution-free order-statistic interval "
                     "(mlscope profile)"),
        percentile=f"p{p}")


SOFTWARE_METRICS: dict[str, SoftwareMetric] = {m.name: m for m in (
    _latency(50), _latency(90), _latency(95), _latency(99),
    SoftwareMetric("throughput_qps", "higher", "throughput (QPS)",
                   "the highest Poisson arrival rate whose p99 latency bound stays within "
                   "the latency bound (mlscope profile's QPS search)"),
    SoftwareMetric("throughput_rows_per_s", "higher", "offline throughput (rows/s)",
                   "rows per second on one batch of the largest batch size, at the median "
                   "call (mlscope profile's offline scenario)"),
    SoftwareMetric("peak_memory_mb", "lower", "peak memory (MB)",
                   "the model's peak resident memory over its load and predictions, in "
                   "MB (10^6 bytes), measured in a fresh process"),
    SoftwareMetric("model_size_mb", "lower", "model size (MB)",
                   "the artifact's size on disk, in MB (10^6 bytes)"),
)}


def is_software_metric(name: str | None) -> bool:
    """True when ``name`` is a software metric (:data:`SOFTWARE_METRICS`)."""
    return name is not None and name in SOFTWARE_METRICS
