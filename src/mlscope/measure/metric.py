"""The charter's metrics, resolved: registry specs with their parameters, or custom code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlscope.charter.costs import cost_params
from mlscope.charter.schema import Charter, MetricEntry
from mlscope.data.source import EvalTable
from mlscope.errors import InputError, did_you_mean
from mlscope.metrics.registry import MetricSpec, get_metric
from mlscope.metrics.software import SOFTWARE_METRICS, SoftwareMetric
from mlscope.metrics.spec import threshold_ref
from mlscope.metrics.task_costs import unknown_classes
from mlscope.plugins import UserFunction, load_callable
from mlscope.result import MetricInfo

__all__ = ["Metric", "check_matrix_classes", "metric_label", "resolve_metrics"]


@dataclass
class Metric:
    """One metric of the charter, resolved: its registry spec (with parameters checked and
    defaults filled) or its custom function, and what the result says about it."""

    entry: MetricEntry
    info: MetricInfo
    spec: MetricSpec | None
    params: dict[str, Any]
    custom: UserFunction | None = None  # guarded: calls raise UserCodeError
    error_index: int | None = None
    # A software metric (`latency_p99_ms` …): one figure per model, read from the stored
    # profile by the finalise stage, never computed from statistics.
    software: SoftwareMetric | None = None

    @property
    def id(self) -> str:
        return self.entry.id


def metric_label(spec: MetricSpec, params: Mapping[str, Any]) -> str:
    """The metric's display label with its parameters (``precision @recall≥0.65``)."""
    parts = []
    for k, v in params.items():
        if k in ("error", "cls") and v:
            parts.append(str(v))
        elif k == "threshold":
            if spec.params[k].only_optimize is None:
                # `threshold: net_value`: at the threshold that metric chooses.
                parts.append("@best" if v == "optimize" else f"@{v}" if isinstance(v, str)
                             else f"@{v:g}")
        elif k in ("recall", "precision"):
            parts.append(f"@{k}≥{v:g}")
        elif k == "k":
            parts.append(f"k={v}")
        elif k == "beta":
            parts.append(f"β={v:g}")
        elif k == "unit" and v:
            parts.append(f"({v} per case)")
        elif k in ("multi_class", "average") and v != spec.params[k].default:
            parts.append(str(v).upper() if k == "multi_class" else str(v))
    return " ".join([spec.label, *parts])


def check_matrix_classes(matrix: Mapping[str, Mapping[str, float]], classes: list[str],
                         where: str) -> None:
    """Refuse a cost matrix that names a class the data does not have (with a did you
    mean): known only once the data is open, so checked here and not in the charter."""
    for bad in unknown_classes(classes, matrix):
        raise InputError(
            f"{where}the cost matrix (`costs.matrix`, or the entry's `matrix`) names class "
            f"`{bad}`, which the data does not have{did_you_mean(bad, classes)} (classes: "
            f"{', '.join(classes)}); write the labels as they appear in the data")


def resolve_metrics(charter: Charter, t: EvalTable, base_dir: Path) -> list[Metric]:
    """The charter's metrics, resolved against the registry and the opened data.

    Raises
    ------
    InputError
        A metric that needs probabilities on ranking scores, an ``error`` parameter that
        names no error column, a parameter out of range, or a custom metric that cannot
        be loaded.
    """
    out = []
    for entry in charter.metrics:
        where = f"metric `{entry.id}`: "
        if entry.custom is not None:
            fn = load_callable(entry.custom, base_dir,
                               what=f"custom metric `{entry.id}` ({entry.custom})")
            info = MetricInfo(
                id=entry.id, name=entry.custom, label=entry.id.replace("_", " "),
                direction=entry.direction or "higher", params=dict(entry.params),
                description=f"custom metric {entry.custom}(y_true, y_score, sample_weight)",
                custom=True,
            )
            out.append(Metric(entry, info, None, dict(entry.params), fn))
            continue
        assert entry.metric is not None
        sw = SOFTWARE_METRICS.get(entry.metric)
        if sw is not None:
            info = MetricInfo(id=entry.id, name=sw.name, label=sw.label,
                              direction=sw.direction, params={}, description=sw.description,
                              bounds=(0.0, None))
            out.append(Metric(entry, info, None, {}, software=sw))
            continue
        task = "errors" if entry.metric.startswith("error_") else charter.task
        spec = get_metric(entry.metric, task=task if task != "errors" else None)
        score_type = t.score_type if charter.task == "binary" else "probability"
        if score_type == "score" and spec.needs_probability:
            raise InputError(
                f"{where}`{spec.name}` needs probabilities, but `data.score_type: score` "
                "says the scores only rank rows; remove the metric, or give probabilities "
                "or logits (`score_type: logit`)"
            )
        try:
            given = cost_params(entry.params, spec.params, charter.costs, spec.name,
                                task=charter.task)
        except InputError as exc:
            msg, _, fix = str(exc).partition("\nfix: ")
            raise InputError(f"{where}{msg}" + (f"; {fix}" if fix else "")) from None
        params = spec.resolve_params(given, where=where, score_type=score_type,
                                     task=task if task != "errors" else None)
        if isinstance(params.get("matrix"), dict):
            check_matrix_classes(params["matrix"], t.classes, where)
        if "cls" in spec.params and params.get("cls") not in t.classes:
            # Known only once the data is open (like a cost matrix's classes).
            raise InputError(
                f"{where}`cls: {params.get('cls')}` names no class of the data"
                f"{did_you_mean(str(params.get('cls')), t.classes)} (classes: "
                f"{', '.join(t.classes)}); write `cls: <label>` as the label appears in "
                "the data")
        if charter.task == "multiclass":
            # `accuracy` is shared with binary; a multiclass prediction is the arg-max class,
            # so the binary threshold parameter has no meaning there.
            params.pop("threshold", None)
        if "error" in spec.params and params.get("error") not in t.errors:
            raise InputError(
                f"{where}`error: {params.get('error')}` names no column under data.errors "
                f"(errors: {', '.join(t.errors) or 'none'})"
            )
        info = MetricInfo(
            id=entry.id, name=spec.name, label=metric_label(spec, params),
            direction=spec.direction, params=params, description=spec.description,
            bounds=spec.bounds_for(task), operating_point=spec.is_operating_point(params),
        )
        err = t.errors.index(params["error"]) if "error" in spec.params else None
        out.append(Metric(entry, info, spec, params, error_index=err))
    _check_threshold_refs(out)
    return out


def _check_threshold_refs(metrics: list[Metric]) -> None:
    """Each ``threshold: <id>`` names another metric that chooses its own threshold (the
    charter's checks say so with the line; this guards a charter built in code)."""
    chooses = {m.id for m in metrics if m.spec is not None
               and m.spec.is_operating_point(m.params) and threshold_ref(m.params) is None}
    for m in metrics:
        ref = threshold_ref(m.params) if m.spec is not None else None
        if ref is not None and ref not in chooses:
            raise InputError(
                f"metric `{m.id}`: `threshold: {ref}` names no metric that chooses its "
                f"threshold on the selection split (those that do: "
                f"{', '.join(sorted(chooses)) or 'none'}); name one, or write a number")
