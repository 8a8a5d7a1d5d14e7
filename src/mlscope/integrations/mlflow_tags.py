"""The run tags :func:`mlscope.integrations.mlflow.write_decision` writes: the decision, the
rule, the key metric with its interval, the rank, and why a model was not selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlscope.errors import InputError

if TYPE_CHECKING:
    from mlscope.integrations.mlflow_runs import ImportedRuns
    from mlscope.result import EvaluationResult

# Tag values are capped by the tracking stores (8,000 characters in MLflow 3, 5,000 in
# older servers); a rule description or a list of reasons is cut well below that.
MAX_TAG = 4000
# Every tag suffix write_decision may write: a stale one (a reason on a run that is now
# selected) is deleted so that the tags always describe the latest decision.
TAG_KEYS = ("decision", "project", "rule", "rule.description", "split", "status",
            "evaluated_at", "version", "selected", "selected_run", "metric", "value",
            "interval", "rank", "score", "reason", "confidence", "chosen_share")


def format_number(x: float) -> str:
    return f"{x:.6g}"


def key_metric(result: EvaluationResult) -> str | None:
    """The metric that best stands for the rule: what it optimizes, or weighs the most."""
    sel = result.charter.get("selection") or {}
    rule = sel.get("rule")
    names: list[str] = []
    if rule == "satisficing":
        names = [str(sel.get("optimize"))]
    elif rule == "weighted":
        weights = dict(sel.get("weights") or {})
        names = sorted(weights, key=lambda k: -abs(float(weights[k])))
    elif rule == "pareto":
        names = [str(m) for m in sel.get("metrics") or []]
    elif rule == "formula":
        from mlscope.formula import parse_formula

        try:
            names = list(parse_formula(str(sel.get("expression"))).names_in_order)
        except InputError:
            names = []
    ids = {m.id for m in result.metrics}
    return next((n for n in names if n in ids), None)


def common_tags(result: EvaluationResult, runs: ImportedRuns, p: str) -> dict[str, str]:
    assert result.selection is not None
    primary = result.selection.primary
    winner = primary.winner
    tags = {
        f"{p}.project": result.project,
        f"{p}.rule": primary.rule,
        f"{p}.split": result.selection.split,
        f"{p}.status": result.status,
        f"{p}.evaluated_at": result.created_at,
        f"{p}.version": result.mlscope_version,
        f"{p}.selected": winner or "",
    }
    if primary.description:
        tags[f"{p}.rule.description"] = primary.description
    if winner is not None and winner in runs.runs:
        tags[f"{p}.selected_run"] = runs.runs[winner].run_id
    return tags


def model_tags(result: EvaluationResult, model: str, p: str) -> dict[str, str]:
    assert result.selection is not None
    sel = result.selection
    primary = sel.primary
    winner = primary.winner
    tags: dict[str, str] = {}
    key = key_metric(result)
    if key is not None:
        tags[f"{p}.metric"] = key
        try:
            v = result.value(key, model, split=sel.split)
        except KeyError:
            v = None
        if v is not None and v.value is not None:
            tags[f"{p}.value"] = format_number(v.value)
            if v.lower is not None and v.upper is not None:
                tags[f"{p}.interval"] = (f"[{format_number(v.lower)}, {format_number(v.upper)}] "
                                         f"{result.interval.level:.0%}")
    row = next((r for r in primary.ranking if r.get("model") == model), None)
    if row is not None and row.get("rank") is not None:
        tags[f"{p}.rank"] = str(row["rank"])
    if row is not None and row.get("score") is not None:
        tags[f"{p}.score"] = format_number(float(row["score"]))
    dropped = {d["model"]: list(d.get("reasons") or []) for d in primary.dropped}
    if winner is None:
        tags[f"{p}.decision"] = "no_decision"
        why = primary.note or (f"tied: {', '.join(primary.tied)}" if primary.tied
                               else "no model met the rule")
        tags[f"{p}.reason"] = "; ".join(dropped.get(model) or [why])
    elif model == winner:
        tags[f"{p}.decision"] = "selected"
    else:
        tags[f"{p}.decision"] = "not_selected"
        if dropped.get(model):
            tags[f"{p}.reason"] = "; ".join(dropped[model])
        else:
            eligible = sum(1 for r in primary.ranking if r.get("eligible"))
            rank = row.get("rank") if row is not None else None
            place = f"ranked {rank} of {eligible} eligible" if rank is not None else "eligible"
            tags[f"{p}.reason"] = f"{place} under the {primary.rule} rule; `{winner}` was selected"
    conf = sel.confidence
    if conf is not None:
        if model == winner and conf.winner_share is not None:
            tags[f"{p}.confidence"] = format_number(conf.winner_share)
        if model in conf.chosen:
            tags[f"{p}.chosen_share"] = format_number(conf.chosen[model])
    return tags
