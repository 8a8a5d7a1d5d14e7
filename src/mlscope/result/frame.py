"""A result as a table: :func:`to_frame` (tidy rows for pandas) and :func:`summary_html`
(what a notebook shows for a result)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FRAME_COLUMNS", "summary_html", "to_frame"]

FRAME_COLUMNS: tuple[str, ...] = ("split", "model", "kind", "slice", "metric", "value",
                                  "low", "high", "n", "undefined")
"""The columns of :func:`to_frame`, in order."""


# What the functions read of an EvaluationResult, structurally: result.core calls them,
# so this module cannot import it.
class _Value(Protocol):
    @property
    def split(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def slice(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def lower(self) -> float | None: ...
    @property
    def upper(self) -> float | None: ...
    @property
    def undefined(self) -> str | None: ...
    @property
    def n_rows(self) -> int: ...


class _Model(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def family(self) -> str | None: ...


class _Metric(Protocol):
    @property
    def id(self) -> str: ...


class _Verdict(Protocol):
    @property
    def headline(self) -> str: ...


class EvaluationResult(Protocol):
    """The parts of :class:`mlscope.result.EvaluationResult` read here."""

    @property
    def project(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def splits(self) -> Mapping[str, str | None]: ...
    @property
    def values(self) -> Sequence[_Value]: ...
    @property
    def models(self) -> Sequence[_Model]: ...
    @property
    def metrics(self) -> Sequence[_Metric]: ...
    @property
    def verdict(self) -> _Verdict | None: ...
    @property
    def winner(self) -> str | None: ...


def _kind(result: EvaluationResult) -> dict[str, str]:
    # A baseline is named by its family (trivial, learned, rule, human, …) so that a filter
    # on ``kind == "candidate"`` keeps exactly the models under evaluation.
    return {m.name: (m.family or "baseline") if m.kind == "baseline" else "candidate"
            for m in result.models}


def to_frame(result: EvaluationResult) -> pd.DataFrame:
    """Every metric value of ``result`` as one tidy row.

    Columns (:data:`FRAME_COLUMNS`): ``split``, ``model``, ``kind`` (``candidate`` or the
    baseline's family), ``slice`` (``overall`` or a slice key), ``metric`` (the charter's
    metric id), ``value``, ``low`` and ``high`` (the interval; NaN when intervals are off),
    ``n`` (rows) and ``undefined`` (why the value is missing, else None). An undefined
    value is NaN with its reason beside it, never a number.

    Examples
    --------
    >>> df = result.to_frame()                                     # doctest: +SKIP
    >>> df.query("split == 'test' and slice == 'overall'").pivot(
    ...     index="model", columns="metric", values="value")      # doctest: +SKIP
    """
    import pandas as pd

    kinds = _kind(result)
    rows = [(v.split, v.model, kinds.get(v.model, "candidate"), v.slice, v.metric,
             v.value, v.lower, v.upper, int(v.n_rows), v.undefined) for v in result.values]
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    for col in ("value", "low", "high"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["n"] = frame["n"].astype("int64")
    return frame


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def summary_html(result: EvaluationResult) -> str:
    """A short HTML summary for notebooks: the verdict, then each model's overall values
    on the report split (else the selection split) with intervals. The full report is
    :func:`mlscope.write_report`."""
    split = result.splits.get("report") or result.splits.get("selection")
    head = f"<b>{escape(result.project)}</b> · {escape(result.task)}"
    verdict = result.verdict
    lines = [f"<div class='mlscope-result'><p>{head}</p>"]
    if verdict is not None:
        lines.append(f"<p><b>Verdict:</b> {escape(verdict.headline)}</p>")
    elif result.winner is not None:
        lines.append(f"<p><b>Selected:</b> {escape(result.winner)}</p>")
    metrics = [m.id for m in result.metrics]
    cells = {(v.model, v.metric): v for v in result.values
             if v.split == split and v.slice == "overall"}
    if split is not None and cells:
        lines.append(f"<table><caption>{escape(str(split))}, overall</caption><tr><th>model</th>"
                     + "".join(f"<th>{escape(m)}</th>" for m in metrics) + "</tr>")
        for model in (m.name for m in result.models):
            row = [f"<td>{escape(model)}</td>"]
            for mid in metrics:
                v = cells.get((model, mid))
                if v is None or v.value is None:
                    row.append("<td>—</td>")
                    continue
                ci = (f" [{_fmt(v.lower)}, {_fmt(v.upper)}]"
                      if v.lower is not None and v.upper is not None else "")
                row.append(f"<td>{_fmt(v.value)}{ci}</td>")
            lines.append("<tr>" + "".join(row) + "</tr>")
        lines.append("</table>")
    lines.append("</div>")
    return "".join(lines)
