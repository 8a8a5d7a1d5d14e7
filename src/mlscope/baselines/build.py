"""Turn the charter's ``baselines:`` into predictions: more models for the same evaluation.

Trivial, learned and rule baselines predict every evaluation row; their predictions are
joined to the canonical view ``ev`` and from there on they are models like any other
(metrics, slices, intervals), marked as baselines. Human-level and external baselines give
figures rather than predictions and are handled in :mod:`mlscope.baselines.standing`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlscope.charter.schema import (
    Charter,
    ExternalBaseline,
    HumanBaseline,
    LearnedBaseline,
    RuleBaseline,
    TrivialBaseline,
)
from mlscope.data.source import EvalTable, attach_baselines, base_frame
from mlscope.errors import InputError
from mlscope.metrics.links import probability
from mlscope.paths import project_file
from mlscope.result import BaselineInfo

__all__ = ["FAMILY", "BaselineRun", "baseline_family", "build_baselines"]

# Where a baseline sits on the ladder, bottom to top.
FAMILY = {
    "prior": "trivial", "majority": "trivial", "stratified": "trivial", "mean": "trivial",
    "median": "trivial", "logistic": "learned", "linear": "learned", "gbdt": "learned",
    "rule": "rule", "human": "human", "external": "external",
}


def baseline_family(kind: str) -> str:
    """``trivial``, ``learned``, ``rule``, ``human`` or ``external``."""
    return FAMILY[kind]


@dataclass
class BaselineRun:
    """What building the baselines produced (before evaluation)."""

    infos: list[BaselineInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _labels(frame: pd.DataFrame, task: str) -> npt.NDArray[Any]:
    y = frame["__label"]
    if task == "binary":
        return np.asarray(y, dtype=np.int64)
    if task == "regression":
        return np.asarray(y, dtype=np.float64)
    return np.asarray(y.astype(str))


def build_baselines(ch: Charter, t: EvalTable, base_dir: Path, seed: int) -> BaselineRun:
    """Fit or run every predicting baseline and attach its predictions to ``t``.

    Raises
    ------
    InputError
        A missing training split or feature column, a rule that fails, a baseline named
        like a model.
    """
    from mlscope.baselines import predictors as bp

    run = BaselineRun()
    t0 = time.perf_counter()
    predicting = {n: b for n, b in ch.baselines.items()
                  if not isinstance(b, HumanBaseline | ExternalBaseline)}
    for name, b in ch.baselines.items():
        if isinstance(b, HumanBaseline):
            a = b.annotations
            src = a.path or "the data table"
            how = (f"{len(a.columns)} annotator columns of {src}" if a.columns is not None
                   else f"long table {a.path} ({a.annotator}, {a.label})")
            run.infos.append(BaselineInfo(
                name=name, kind="human", family="human", description=b.description,
                fit={"annotations": how, "reference": b.reference,
                     "split": b.split or ch.selection.split or ch.splits.selection}))
        if isinstance(b, ExternalBaseline):
            run.infos.append(BaselineInfo(
                name=name, kind="external", family="external", description=b.description,
                values=dict(b.values), source=b.source, data=b.data, same_data=b.same_data,
                role=b.role,
            ))
    if not predicting:
        return run
    clash = [n for n in predicting if n in t.models]
    if clash:
        raise InputError(f"baseline `{clash[0]}` has the name of a model in the data; rename "
                         "the baseline (e.g. `" + clash[0] + "_baseline`)")

    features = {n: expand_features(b.features, t, ch, f"baselines.{n}.features")
                for n, b in predicting.items() if isinstance(b, LearnedBaseline)}
    # One read of the user's rows for every baseline: the union of the columns they need.
    need_all = any(isinstance(b, RuleBaseline) and b.columns is None for b in predicting.values())
    cols: list[str] = []
    for name, b in predicting.items():
        if isinstance(b, LearnedBaseline):
            cols += features[name]
        elif isinstance(b, RuleBaseline) and b.columns is not None:
            cols += b.columns
    for name, b in predicting.items():
        wanted = (features[name] if isinstance(b, LearnedBaseline)
                  else b.columns if isinstance(b, RuleBaseline) else None) or []
        base_frame_check(t, wanted, f"baselines.{name}")
    frame = base_frame(t, None if need_all else list(dict.fromkeys(cols)),
                       role="the baselines")
    ids = frame["__id"].to_numpy()
    splits = frame["__split"].astype(str).to_numpy()
    user = frame.drop(columns=[c for c in ("__id", "__split", "__label") if c in frame])
    y_all = _labels(frame, t.task) if "__label" in frame else None
    classes = list(t.classes) if t.task == "multiclass" else None

    predictions: dict[str, npt.NDArray[np.float64]] = {}
    for name, b in predicting.items():
        where = f"baselines.{name}"
        t1 = time.perf_counter()
        info = BaselineInfo(name=name, kind=b.kind, family=baseline_family(b.kind),
                            description=b.description)
        if isinstance(b, TrivialBaseline | LearnedBaseline):
            assert y_all is not None
            fit_on = b.fit_on or ch.splits.train
            if fit_on is None:
                raise InputError(
                    f"{where}: a `{b.kind}` baseline learns from a training split, and the "
                    "charter names none; set `splits.train` or `fit_on:` on the baseline")
            mask = splits == fit_on
            if not mask.any():
                present = ", ".join(sorted(set(splits.tolist())))
                raise InputError(
                    f"{where}: the training split `{fit_on}` has no rows in {t.base_label} "
                    f"(splits present: {present}); add training rows, or set `fit_on:` to "
                    "the split this baseline should learn from")
            b_seed = seed if b.seed is None else b.seed
            info.fit = {"fit_on": fit_on, "n_train": int(mask.sum()), "seed": b_seed}
            if isinstance(b, TrivialBaseline):
                pred = bp.trivial_predictions(b.kind, task=t.task, y_train=y_all[mask],
                                              n=len(frame), classes=classes, seed=b_seed)
            else:
                pred, rec = bp.fit_learned(
                    b.kind, task=t.task, train=user.loc[mask], y_train=y_all[mask], X=user,
                    features=features[name], seed=b_seed, params=b.params, where=where,
                    classes=classes)
                info.fit.update({
                    "estimator": rec.estimator, "features": list(rec.features),
                    "n_features_encoded": rec.n_features_encoded, "params": dict(rec.params),
                })
                info.warnings.extend(rec.warnings)
                leaks = bp.leak_warnings(user.loc[mask], y_all[mask], features[name],
                                         task=t.task, where=where, seed=b_seed,
                                         classes=classes)
                info.warnings.extend(leaks)
        else:
            assert isinstance(b, RuleBaseline)
            rule_frame = user if b.columns is None else user[b.columns]
            pred = bp.run_rule(b.function, rule_frame, base_dir=base_dir, task=t.task,
                               classes=classes, where=where)
            info.fit = {"function": b.function, "columns": list(rule_frame.columns)}
        info.seconds = time.perf_counter() - t1
        info.fit["seconds"] = round(info.seconds, 4)
        run.warnings.extend(f"baseline `{name}`: {w}" for w in info.warnings)
        predictions[name] = np.asarray(pred, dtype=np.float64)
        run.infos.append(info)
    attach_baselines(t, ids, predictions, {n: predicting[n].kind for n in predictions})
    run.seconds = time.perf_counter() - t0
    return run


def base_frame_check(t: EvalTable, columns: list[str], role: str) -> None:
    """Raise a clear error naming the baseline when one of its columns is missing."""
    if columns:
        base_frame_columns = set(t.base_columns)
        missing = [c for c in columns if c not in base_frame_columns]
        if missing:
            base_frame(t, missing[:1], role=role)  # raises with "did you mean"


def role_columns(ch: Charter) -> set[str]:
    """Columns the charter already gives a role (id, label, split, weight, scores, errors):
    never picked up by a feature wildcard."""
    d = ch.data
    out = {c for c in (d.id, d.label, d.split, d.weight) if c}
    for spec in list((d.models or {}).values()) + list(d.errors.values()):
        out.update([spec] if isinstance(spec, str) else spec.values())
    if d.long is not None:
        out.add(d.long.model_column)
        if d.long.score:
            out.add(d.long.score)
        out.update((d.long.classes or {}).values())
    return out


def expand_features(patterns: list[str], t: EvalTable, ch: Charter, where: str) -> list[str]:
    """Feature names, with shell-style wildcards (``M*``, ``P?ERS*``) expanded in the
    table's column order. A wildcard never matches a column with a role in the charter
    (label, id, split, weight, model scores); a name given in full is taken as it is."""
    import fnmatch

    roles = role_columns(ch)
    out: list[str] = []
    for pat in patterns:
        if any(ch_ in pat for ch_ in "*?["):
            hits = [c for c in t.base_columns if fnmatch.fnmatchcase(c, pat) and c not in roles]
            if not hits:
                raise InputError(f"{where}: the pattern `{pat}` matches no column of "
                                 f"{t.base_label}; write feature names or a pattern such as "
                                 "`M*`")
            out.extend(hits)
        else:
            out.append(pat)
    return list(dict.fromkeys(out))


def human_level(
    ch: Charter, t: EvalTable, base_dir: Path, metrics: list[tuple[str, str, dict[str, Any]]],
    *, split: str, resamples: int, level: float, seed: int,
    replicates: dict[tuple[str, str | None, str], Any] | None = None,
) -> Any:
    """The human-level ladder of the charter's ``human`` baseline on ``split``.

    ``metrics`` are ``(id, registry name, resolved params)`` of the metrics humans can be
    scored on. Returns a :class:`mlscope.baselines.human.HumanLevel`; ``replicates``, when
    given, is filled as :func:`~mlscope.baselines.human.human_ladder` describes.
    """
    from mlscope.baselines.human import HumanMetricSpec, human_ladder, load_annotations
    from mlscope.data.source import qi

    name, b = next((n, b) for n, b in ch.baselines.items() if isinstance(b, HumanBaseline))
    where = f"baselines.{name}"
    a = b.annotations
    d = ch.data
    assert d.id is not None
    if a.columns is not None:
        if a.path is None:
            frame = base_frame(t, [*a.columns], role=f"{where}.annotations")
            frame = frame.rename(columns={"__id": "__item"})
            ann = load_annotations(frame[["__item", *a.columns]], layout="wide", item="__item",
                                   columns=a.columns)
        else:
            p = project_file(base_dir, a.path, what=f"{where}.annotations.path")
            ann = load_annotations(p, layout="wide", item=a.item or d.id, columns=a.columns)
    else:
        assert a.path is not None
        ann = load_annotations(project_file(base_dir, a.path, what=f"{where}.annotations.path"),
                               layout="long", item=a.item or d.id,
                               annotator=a.annotator, label=a.label)
    ann["item"] = ann["item"].astype(str)

    # The reference: the data's own labels (as the user wrote them) on the split's rows.
    label_col = d.label
    assert label_col is not None
    ref_frame = base_frame(t, [label_col], role=where)
    ref_frame = ref_frame[ref_frame["__split"].astype(str) == split]
    ref_frame["__id"] = ref_frame["__id"].astype(str)
    on_split = set(ref_frame["__id"])
    ann = ann[ann["item"].isin(on_split)]
    if ann.empty:
        raise InputError(
            f"{where}: no annotated item is a row of the `{split}` split (items are matched "
            f"to `{d.id}`); check the item ids, or set `split:` on the human baseline")
    reference = pd.Series(ref_frame[label_col].to_numpy(), index=ref_frame["__id"])
    if t.task in ("binary", "multiclass"):
        from mlscope.baselines.annotations import as_text

        allowed = ({as_text(v) for v in ref_frame[label_col].dropna()} if t.task == "binary"
                   else set(t.classes))
        texts = ann["label"].map(lambda v: None if pd.isna(v) else as_text(v))
        bad = ann[texts.notna() & ~texts.isin(allowed)]
        if len(bad):
            row = bad.iloc[0]
            raise InputError(
                f"{where}.annotations: annotator `{row['annotator']}` labels item "
                f"`{row['item']}` as `{as_text(row['label'])}`, which is not a label of "
                f"`{label_col}` (labels: {', '.join(sorted(allowed))}); {len(bad)} "
                "annotation(s) like this. Fix them, or map them to one of the labels")
    positive: str | None = None
    if t.task == "binary":
        if d.positive is not None:
            positive = str(d.positive)
        else:
            pos_rows = ref_frame[ref_frame["__label"] == 1]
            if len(pos_rows):
                raw = pos_rows[label_col].iloc[0]
                positive = ("true" if raw is True else "false" if raw is False else str(raw))

    # Each model's predictions on the same items.
    items = sorted(set(ann["item"]))
    cols = ([t.score_col(m, k) for m in range(len(t.models)) for k in range(len(t.classes))]
            if t.task == "multiclass" else [t.score_col(m) for m in range(len(t.models))])
    preds = t.con.execute(
        f"SELECT __id, {', '.join(qi(c) for c in cols)} FROM ev WHERE __split = ?", [split]
    ).fetchdf()
    preds["__id"] = preds["__id"].astype(str)
    preds = preds.set_index("__id").reindex(items)
    models: dict[str, pd.Series | pd.DataFrame] = {}
    for m, model in enumerate(t.models):
        if t.task == "multiclass":
            block = preds[[t.score_col(m, k) for k in range(len(t.classes))]]
            block.columns = list(t.classes)
            models[model] = block
        elif t.score_type_of(m) == "logit":
            # The ladder scores models as probabilities. Logits saturate there (expit(40)
            # == 1.0), which can tie the most confident items; the main evaluation ranks
            # the logits themselves.
            models[model] = pd.Series(probability(preds[t.score_col(m)].to_numpy(), "logit"),
                                      index=preds.index)
        else:
            models[model] = preds[t.score_col(m)]
    specs = [HumanMetricSpec(id=i, name=n, params=p) for i, n, p in metrics]
    return human_ladder(
        ann, task=t.task, metrics=specs, positive=positive,  # type: ignore[arg-type]
        classes=list(t.classes) if t.task == "multiclass" else None,
        reference=reference, reference_kind=b.reference, models=models,
        ks=b.panel_sizes, min_items=b.min_items, resamples=resamples, level=level,
        seed=seed, replicates=replicates)
