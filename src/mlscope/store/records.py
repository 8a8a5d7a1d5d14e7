"""The records of the store: what a saved run and a history point are, and how an
:class:`~mlscope.result.EvaluationResult` becomes the rows of ``mlscope_runs`` and
``mlscope_run_values`` (and a stored row a :class:`RunSummary` again).
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlscope.result import OVERALL, EvaluationResult
from mlscope.store.base import NAME, StoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

__all__ = ["HistoryPoint", "RunSummary", "data_fingerprint"]


@dataclass
class RunSummary:
    """One saved run, without its full result (see :meth:`Store.result`).

    ``created_at`` is when the evaluation ran (ISO 8601, UTC). ``models`` are the
    candidates, ``baselines`` the baselines (evaluated ones, then external figures).
    ``selection_metric`` is the metric the charter's rule optimizes (satisficing), weighs
    most (weighted) or breaks Pareto ties with; None for a formula. ``changes`` says what
    differs from the project's previous run: ``charter edited``, ``new models: x, y``,
    ``models removed: z``, ``data changed``, ``seed changed`` (empty for the first run).
    ``requirements`` is how many requirements were checked for the selected model: 0 when
    the charter sets none (a ``requirements_met`` status is then vacuous; see
    :attr:`no_requirements`), None for a run stored before it was kept whose result could
    not be read.
    """

    id: int
    created_at: str
    project: str
    command: str
    task: str
    status: str
    exit_code: int
    winner: str | None
    n_models: int
    models: list[str]
    baselines: list[str]
    metrics: list[str]
    selection_metric: str | None
    selection_split: str | None
    charter_hash: str
    data_fingerprint: dict[str, Any]
    mlscope_version: str
    seed: int
    note: str | None
    changes: list[str] = field(default_factory=list)
    requirements: int | None = None

    @property
    def no_requirements(self) -> bool:
        """Whether the status says "requirements met" of a charter that sets none (as
        :func:`mlscope.report.panels_decision.no_requirements` says of a result)."""
        return self.requirements == 0 and self.status == "requirements_met"


@dataclass
class HistoryPoint:
    """One model's overall value of one metric in one run, with its interval.

    ``kind`` is ``candidate`` or ``baseline``; ``value`` is None where the metric was
    undefined, ``lower``/``upper`` where no interval was computed.
    """

    run_id: int
    created_at: str
    model: str
    kind: str
    split: str
    value: float | None
    lower: float | None
    upper: float | None


def summary_of(row: Row[Any]) -> RunSummary:
    return RunSummary(
        id=int(row.id),
        created_at=row.created_at,
        project=row.project,
        command=row.command,
        task=row.task,
        status=row.status,
        exit_code=int(row.exit_code),
        winner=row.winner,
        n_models=int(row.n_models),
        models=json.loads(row.models),
        baselines=json.loads(row.baselines),
        metrics=json.loads(row.metrics),
        selection_metric=row.selection_metric,
        selection_split=row.selection_split,
        charter_hash=row.charter_hash,
        data_fingerprint=json.loads(row.data_fingerprint),
        mlscope_version=row.mlscope_version,
        seed=int(row.seed),
        note=row.note,
        changes=json.loads(row.changes) if row.changes else [],
        requirements=None if row.requirements is None else int(row.requirements),
    )


def facts(row: Any) -> dict[str, Any]:
    """What :func:`describe_changes` compares, from a stored row or a new record."""
    get = row.__getitem__ if isinstance(row, dict) else row._mapping.__getitem__
    return {"charter_hash": get("charter_hash"), "models": json.loads(get("models")),
            "data_hash": get("data_hash"), "seed": int(get("seed"))}


# What each bounded text column holds, for messages; the rest of the text columns are
# checked for NUL only.
_NAMED = {"model": "model name", "split": "split name", "metric": "metric id",
          "project": "project name", "winner": "winner", "selection_metric": "selection metric",
          "selection_split": "split name", "command": "command"}


def check_portable(record: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Refuse, before writing, what one database would keep and another reject.

    SQLite keeps any text; PostgreSQL rejects names over their column's 255 characters and
    any text with a NUL character. A run is stored alike everywhere or not at all.
    """
    project = str(record["project"])
    fields = [(k, r[k]) for r in rows for k in ("model", "split", "metric")]
    fields += [(k, v) for k, v in record.items() if isinstance(v, str)]
    for key, value in fields:
        if not isinstance(value, str):
            continue
        what = _NAMED.get(key, key.replace("_", " "))
        if key in _NAMED and len(value) > NAME:
            raise StoreError(
                f"the result of `{project[:80]}` cannot be stored: its {what} "
                f"`{value[:40]}…` has {len(value)} characters; the store keeps names of up "
                f"to {NAME} characters (on every database)")
        if "\x00" in value:
            raise StoreError(
                f"the result of `{project[:80]}` cannot be stored: its {what} "
                f"{value[:40]!r}… contains a NUL character (\\x00), which PostgreSQL "
                "cannot store; remove it")


def run_record(
    result: EvaluationResult, *, command: str, charter_text: str | None, note: str | None
) -> dict[str, Any]:
    """The ``mlscope_runs`` row of ``result`` (without ``id`` and ``changes``)."""
    try:
        payload = json.dumps(result.to_dict(), allow_nan=False, default=str,
                             separators=(",", ":"))
    except ValueError as exc:
        raise StoreError(f"the result of `{result.project}` cannot be stored: {exc}") from None
    charter_json = _canonical(result.charter)
    fingerprint = data_fingerprint(result)
    candidates = [m.name for m in result.models if m.kind == "candidate"]
    baselines = [m.name for m in result.models if m.kind == "baseline"]
    baselines += [b.name for b in result.baselines if b.name not in baselines]
    return {
        "project": result.project,
        "created_at": _utc_iso(result.created_at),
        "saved_at": now(),
        "command": command,
        "task": result.task,
        "status": result.status,
        "exit_code": int(result.exit_code),
        "winner": result.winner,
        "n_models": len(candidates),
        "models": json.dumps(candidates),
        "baselines": json.dumps(baselines),
        "metrics": json.dumps([m.id for m in result.metrics]),
        "selection_metric": _selection_metric(result.charter),
        "selection_split": result.splits.get("selection"),
        "charter_hash": charter_hash(result.charter),
        "charter_text": charter_text,
        "charter_json": charter_json,
        "data_fingerprint": json.dumps(fingerprint),
        "data_hash": fingerprint["hash"],
        "mlscope_version": result.mlscope_version,
        "result_schema": result.schema,
        "seed": int(result.seed),
        "note": note,
        "requirements": len(result.requirements),
        "result": zlib.compress(payload.encode("utf-8"), 6),
    }


def value_rows(result: EvaluationResult) -> list[dict[str, Any]]:
    """The overall values of ``result``, one ``mlscope_run_values`` row each (no run id)."""
    place = {m.name: (i, m.kind) for i, m in enumerate(result.models)}
    rows = []
    for v in result.values:
        if v.slice != OVERALL:
            continue
        position, kind = place.get(v.model, (len(place), "candidate"))
        rows.append({"project": result.project, "split": v.split, "model": v.model,
                     "position": position, "kind": kind, "metric": v.metric,
                     "value": opt_float(v.value), "lower": opt_float(v.lower),
                     "upper": opt_float(v.upper)})
    return rows


def data_fingerprint(result: EvaluationResult) -> dict[str, Any]:
    """What identifies the data a result was computed on.

    Returns
    -------
    dict
        ``sources`` (each file's path, size and sampled content hash, as the data layer
        recorded them), ``rows``, ``rows_per_split``, ``columns`` (those the charter uses:
        id, label, split, weight, scores, errors, slices) and ``hash``: a SHA-256 over the
        sources' sizes and content hashes and the row count. Paths are left out of the
        hash, so moving a project folder is not a data change.
    """
    data = result.data or {}
    sources = [dict(s) for s in data.get("sources") or [] if isinstance(s, dict)]
    content = [{k: v for k, v in s.items() if k != "path"} for s in sources]
    rows = data.get("rows")
    digest = hashlib.sha256(_canonical({"sources": content, "rows": rows}).encode()).hexdigest()
    return {"sources": sources, "rows": rows,
            "rows_per_split": dict(data.get("rows_per_split") or {}),
            "columns": _columns_used(result.charter), "hash": digest}


def _columns_used(charter: dict[str, Any]) -> list[str]:
    cols: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                add(v)
        elif isinstance(value, str) and value and value not in cols:
            cols.append(value)

    d = charter.get("data") or {}
    for key in ("id", "label", "split", "weight"):
        add(d.get(key))
    add(d.get("models") or {})  # a column per model, or per model a class → column map
    long = d.get("long") or {}
    for key in ("model_column", "score", "classes"):
        add(long.get(key))
    for pred in (d.get("predictions") or {}).values():
        if isinstance(pred, dict):
            add(pred.get("score"))
            add(pred.get("classes") or {})
    add(d.get("errors") or {})
    for col in (charter.get("slices") or {}).get("columns") or []:
        add(col)
    return cols


def _selection_metric(charter: dict[str, Any]) -> str | None:
    sel = charter.get("selection") or {}
    rule = sel.get("rule")
    if rule == "satisficing":
        opt = sel.get("optimize")
        return str(opt) if opt else None
    if rule == "weighted":
        weights: dict[str, float] = sel.get("weights") or {}
        return max(weights, key=lambda k: abs(weights[k])) if weights else None
    if rule == "pareto":
        tie = sel.get("tie_break")
        return str(tie) if tie in (sel.get("metrics") or []) else None
    return None


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=str)


def charter_hash(charter: Any) -> str:
    """The SHA-256 of a canonical charter (``charter_to_dict``): runs and monitor records of
    one charter carry the same hash."""
    return hashlib.sha256(_canonical(charter).encode("utf-8")).hexdigest()


def opt_float(x: Any) -> float | None:
    if x is None:
        return None
    f = float(x)
    return None if math.isnan(f) else f


def _utc_iso(stamp: str) -> str:
    """``stamp`` as ISO 8601 in UTC (a naive time is taken as UTC); now if unreadable."""
    try:
        t = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return now()
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat(timespec="seconds")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
