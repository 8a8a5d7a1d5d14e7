"""Metric definitions: pure functions of sufficient statistics, in one registry."""

from mlscope.metrics.registry import (
    REGISTRY,
    MetricSpec,
    ParamSpec,
    get_metric,
    metrics_for_task,
    register,
)

__all__ = ["REGISTRY", "MetricSpec", "ParamSpec", "get_metric", "metrics_for_task", "register"]
