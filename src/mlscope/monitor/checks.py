"""The input and output checks of one window, and how they become alerts.

Every check has an effect size with a gate and a test with a p-value. Within a window the
p-values of all checks (features × slices, scores, rates) are corrected together by
Benjamini–Hochberg; a check alerts when its q-value is below the charter's ``alert.q``
**and** its effect reaches the gate. On a window drawn from the reference the chance of
any alert is then at most ``q`` (BH controls the family-wise error under the complete
null), whatever the number of features and slices; and a negligible shift never alerts,
however many rows see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlscope.charter.monitor import AlertSpec, FeedbackSpec
from mlscope.compare.paired import fdr_bh
from mlscope.monitor.result import Check
from mlscope.monitor.shift import (
    Shift,
    categorical_shift,
    numeric_shift,
    rate_test,
    two_rate_test,
)

__all__ = ["ARM", "LABEL", "Context", "decide", "pred_col", "proba_col", "score_col",
           "window_checks"]

ALL = "all"
LABEL = "__label"  # the label column in the monitor's frames (NaN where not arrived)
# Canary and blue-green: the model that served each row (absent in shadow and single-model
# logs). A model's own checks then count only the rows it served.
ARM = "__arm"
# A window's realised share of positives is compared with the reference's from this many
# labelled rows on.
_MIN_LABELLED = 30
_NAMES = {"psi": "PSI", "js": "JS", "wasserstein": "W/IQR"}


def score_col(model: str) -> str:
    """The column that holds ``model``'s score in the monitor's frames (a regression's
    prediction; a multiclass model's top-class probability)."""
    return f"__score:{model}"


def proba_col(model: str, cls: str) -> str:
    """The column that holds a multiclass ``model``'s probability of class ``cls``."""
    return f"__proba:{model}:{cls}"


def pred_col(model: str) -> str:
    """The column that holds a multiclass ``model``'s predicted class (its index)."""
    return f"__pred:{model}"


@dataclass
class Context:
    """What every window is compared with: the reference rows and the settings."""

    reference: pd.DataFrame
    features: list[str]
    numeric: set[str]
    slices: list[str]
    models: list[str]
    thresholds: dict[str, float]
    gates: AlertSpec
    feedback: dict[str, FeedbackSpec]
    min_size: int
    task: str = "binary"
    classes: list[str] = field(default_factory=list)
    # Filled by `prepare`: per feature, the reference's missing count, range and categories.
    missing: dict[str, int] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    categories: dict[str, set[str]] = field(default_factory=dict)
    singletons: dict[str, int] = field(default_factory=dict)
    levels: dict[str, list[str]] = field(default_factory=dict)

    def prepare(self) -> Context:
        ref = self.reference
        for c in self.features:
            col = ref[c]
            self.missing[c] = int(col.isna().sum())
            if c in self.numeric:
                v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
                v = v[np.isfinite(v)]
                if v.size:
                    self.ranges[c] = (float(v.min()), float(v.max()))
            else:
                counts = col.dropna().astype(str).value_counts()
                self.categories[c] = set(counts.index)
                self.singletons[c] = int((counts == 1).sum())
        for m in self.models:
            self.missing[score_col(m)] = int(ref[score_col(m)].isna().sum())
        for s in self.slices:
            counts = ref[s].dropna().astype(str).value_counts()
            self.levels[s] = [str(v) for v in counts.index if counts[v] >= self.min_size]
        return self


def _shift_check(kind: str, column: str, where: str, s: Shift, gates: AlertSpec) -> Check:
    g = {"psi": gates.psi, "js": gates.js}
    if s.wasserstein is not None:
        g["wasserstein"] = gates.wasserstein
    eff = s.effects()
    met = [k for k in g if eff.get(k, 0.0) >= g[k]]
    return Check(kind, column, where, s.n_window, s.psi, None, effects=eff, gates=g,
                 test=s.test, p=s.p, gate_met=bool(met),
                 reason=", ".join(f"{_NAMES[k]} {eff[k]:.2f} ≥ {g[k]:g}" for k in met))


def _shift(ctx: Context, ref: pd.Series, win: pd.Series, numeric: bool) -> Shift | None:
    if numeric:
        return numeric_shift(pd.to_numeric(ref, errors="coerce").to_numpy(dtype=np.float64),
                             pd.to_numeric(win, errors="coerce").to_numpy(dtype=np.float64))
    return categorical_shift(ref.to_numpy(dtype=object), win.to_numpy(dtype=object))


def _groups(ctx: Context, win: pd.DataFrame) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Overall, then each slice level with enough rows on both sides."""
    out = [(ALL, ctx.reference, win)]
    for s in ctx.slices:
        wv = win[s].astype(str)
        rv = ctx.reference[s].astype(str)
        for lvl in ctx.levels[s]:
            mask = (wv == lvl).to_numpy()
            if mask.sum() >= ctx.min_size:
                out.append((f"{s}={lvl}", ctx.reference[(rv == lvl).to_numpy()], win[mask]))
    return out


def _rate(kind: str, column: str, k: int, n: int, value: float, reference: float,
          gate: float, p: float, test: str, what: str) -> Check:
    effect = value - reference
    met = effect >= gate
    return Check(kind, column, ALL, n, value, reference, effects={kind: effect},
                 gates={kind: gate}, test=test, p=p, gate_met=met,
                 reason=(f"{what} {value:.1%} vs {reference:.1%} in the reference "
                         f"(+{effect:.1%} ≥ {gate:.0%})") if met else "")


def _changed_rate(kind: str, column: str, k: int, n: int, kr: int, nr: int, gate: float,
                  what: str, against: str = "", tail: str = "") -> Check:
    """A rate that must not move either way: the window's ``k/n`` against the reference's
    ``kr/nr`` (Fisher's exact test, two-sided; the gate in points, either direction)."""
    rate, ref_rate = k / n, kr / nr
    diff = rate - ref_rate
    met = abs(diff) >= gate
    return Check(kind, column, ALL, n, rate, ref_rate, effects={kind: diff},
                 gates={kind: gate}, test="fisher",
                 p=two_rate_test(k, n, kr, nr, alternative="two-sided"), gate_met=met,
                 reason=(f"{what}: {rate:.1%} vs {ref_rate:.1%}{against} ({diff:+.1%}; "
                         f"gate ±{gate:.0%}){tail}") if met else "")


def _input_rates(ctx: Context, win: pd.DataFrame) -> list[Check]:
    n, nr, g = len(win), len(ctx.reference), ctx.gates
    out: list[Check] = []
    for c in ctx.features:
        col = win[c]
        k = int(col.isna().sum())
        kr = ctx.missing[c]
        out.append(_rate("missing", c, k, n, k / n, kr / nr, g.missing,
                         two_rate_test(k, n, kr, nr), "fisher", "missing"))
        if c in ctx.numeric and c in ctx.ranges:
            lo, hi = ctx.ranges[c]
            v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
            v = v[np.isfinite(v)]
            if v.size:
                k = int(((v < lo) | (v > hi)).sum())
                # A new draw from the reference's distribution falls outside the reference's
                # own minimum and maximum with probability 2 / (n + 1).
                p0 = 2.0 / (nr + 1)
                out.append(_rate("out_of_range", c, k, int(v.size), k / v.size, p0,
                                 g.out_of_range, rate_test(k, int(v.size), p0), "binomial",
                                 f"outside [{lo:g}, {hi:g}]:"))
        elif c in ctx.categories:
            vals = col.dropna().astype(str)
            if len(vals):
                k = int((~vals.isin(ctx.categories[c])).sum())
                # Good–Turing: the chance that the next row shows an unseen category is
                # about the share of categories seen once in the reference.
                p0 = (ctx.singletons[c] + 1.0) / (nr + 1.0)
                out.append(_rate("new_category", c, k, len(vals), k / len(vals), p0,
                                 g.new_category, rate_test(k, len(vals), p0), "binomial",
                                 "categories unseen in the reference:"))
    return out


def _output_rates(ctx: Context, win: pd.DataFrame) -> list[Check]:
    n, nr, g = len(win), len(ctx.reference), ctx.gates
    out: list[Check] = []
    for m in ctx.models:
        sc = score_col(m)
        served = win[sc] if ARM not in win.columns else win.loc[win[ARM] == m, sc]
        n = len(served)
        if not n:
            continue
        k, kr = int(served.isna().sum()), ctx.missing[sc]
        out.append(_rate("null_score", m, k, n, k / n, kr / nr, g.missing,
                         two_rate_test(k, n, kr, nr), "fisher", "no score"))
        if ctx.task == "multiclass":
            out.extend(_class_share("predicted_share", m, ctx, win[pred_col(m)],
                                    ctx.reference[pred_col(m)], "predicted share"))
        t = ctx.thresholds.get(m)
        ws = win[sc].dropna().to_numpy(dtype=np.float64)
        rs = ctx.reference[sc].dropna().to_numpy(dtype=np.float64)
        if t is None or not ws.size or not rs.size:
            continue
        out.append(_changed_rate("positive_rate", m, int((ws >= t).sum()), int(ws.size),
                                 int((rs >= t).sum()), int(rs.size), g.positive_rate,
                                 f"positive rate at {t:g}"))
    if LABEL in win.columns and LABEL in ctx.reference.columns:
        if ctx.task == "multiclass":
            out.extend(_class_share("label_share", "labels", ctx, win[LABEL],
                                    ctx.reference[LABEL], "share among the labelled rows",
                                    _MIN_LABELLED, ": label shift"))
        elif ctx.task == "regression":
            out.extend(_label_shift(ctx, win))
        else:
            out.extend(_label_share(ctx, win))
    for c, spec in ctx.feedback.items():
        v = pd.to_numeric(win[c], errors="coerce").dropna().to_numpy(dtype=np.float64)
        if not v.size:
            continue
        k = int((v > 0).sum())
        rate = k / v.size
        bound = spec.at_most if spec.at_most is not None else spec.at_least
        if bound is None:
            out.append(Check("feedback", c, ALL, int(v.size), rate, None))
            continue
        side = "greater" if spec.at_most is not None else "less"
        met = rate > bound if side == "greater" else rate < bound
        word = "at most" if side == "greater" else "at least"
        out.append(Check("feedback", c, ALL, int(v.size), rate, bound,
                         effects={"feedback": rate - bound}, gates={"feedback": bound},
                         test="binomial", p=rate_test(k, int(v.size), bound, side=side),
                         gate_met=met,
                         reason=f"{c} rate {rate:.1%}, the charter wants {word} {bound:.0%}"
                         if met else ""))
    return out


def _label_share(ctx: Context, win: pd.DataFrame) -> list[Check]:
    """Label shift, seen once labels arrive: the window's share of positives against the
    reference's (Fisher's exact test; gate: the positive-rate gate, in points)."""
    y = pd.to_numeric(win[LABEL], errors="coerce").dropna().to_numpy(dtype=np.float64)
    yr = pd.to_numeric(ctx.reference[LABEL], errors="coerce").dropna().to_numpy(
        dtype=np.float64)
    if y.size < _MIN_LABELLED or not yr.size:
        return []
    return [_changed_rate("label_share", "labels", int((y == 1).sum()), int(y.size),
                          int((yr == 1).sum()), int(yr.size), ctx.gates.positive_rate,
                          f"share of positives among the {y.size:,} labelled rows",
                          against=" on the reference", tail=": label shift")]


def _class_share(kind: str, column: str, ctx: Context, win: pd.Series, ref: pd.Series,
                 what: str, minimum: int = 2, tail: str = "") -> list[Check]:
    """Each class's share (predicted or labelled) against the reference's: the χ² test of
    the 2 × K table (rare classes pooled, as for a categorical feature) and, as the
    effect, the largest change of one class's share in points (gate ``alert.positive_rate``)."""
    w = win.dropna().to_numpy(dtype=np.float64).astype(np.int64)
    r = ref.dropna().to_numpy(dtype=np.float64).astype(np.int64)
    if w.size < minimum or not r.size:
        return []
    k = len(ctx.classes)
    ws = np.bincount(w, minlength=k)[:k] / w.size
    rs = np.bincount(r, minlength=k)[:k] / r.size
    i = int(np.argmax(np.abs(ws - rs)))
    diff = float(ws[i] - rs[i])
    names = np.asarray(ctx.classes, dtype=object)
    s = categorical_shift(names[r], names[w])
    gate = ctx.gates.positive_rate
    met = abs(diff) >= gate
    return [Check(kind, column, ALL, int(w.size), float(ws[i]), float(rs[i]),
                  effects={kind: diff, "psi": s.psi if s else 0.0}, gates={kind: gate},
                  test="chi2", p=s.p if s else None, gate_met=met,
                  reason=(f"{what} of class `{ctx.classes[i]}`: {ws[i]:.1%} vs {rs[i]:.1%} "
                          f"on the reference ({diff:+.1%}; gate ±{gate:.0%}){tail}")
                  if met else "")]


def _label_shift(ctx: Context, win: pd.DataFrame) -> list[Check]:
    """A regression's labels, once they arrive: their distribution against the
    reference's, as a numeric feature's (label shift)."""
    y = win[LABEL].to_numpy(dtype=np.float64)
    if np.isfinite(y).sum() < _MIN_LABELLED:
        return []
    s = numeric_shift(ctx.reference[LABEL].to_numpy(dtype=np.float64), y)
    if s is None:
        return []
    c = _shift_check("label_shift", "labels", ALL, s, ctx.gates)
    if c.gate_met:
        c.reason = f"the labels' distribution moved: {c.reason} (label shift)"
    return [c]


def window_checks(ctx: Context, win: pd.DataFrame) -> list[Check]:
    """Every input and output check of one window (before the correction: see :func:`decide`)."""
    out: list[Check] = []
    for where, ref, w in _groups(ctx, win):
        for c in ctx.features:
            if where != ALL and where.split("=", 1)[0] == c:
                continue  # a slice's own column is constant within it
            s = _shift(ctx, ref[c], w[c], c in ctx.numeric)
            if s is not None:
                out.append(_shift_check("shift", c, where, s, ctx.gates))
        for m in ctx.models:
            s = numeric_shift(ref[score_col(m)].to_numpy(dtype=np.float64),
                              w[score_col(m)].to_numpy(dtype=np.float64))
            if s is not None:
                out.append(_shift_check("score_shift", m, where, s, ctx.gates))
    out.extend(_input_rates(ctx, win))
    out.extend(_output_rates(ctx, win))
    return out


def decide(checks: Sequence[Check], q: float) -> list[Check]:
    """Benjamini–Hochberg across the window's tests, then alert where q-value < ``q`` and
    the effect reaches its gate. Returns the same checks, ``q`` and ``alert`` filled."""
    tested = [c for c in checks if c.p is not None]
    if tested:
        _, qs = fdr_bh(np.array([c.p for c in tested], dtype=np.float64), alpha=q)
        for c, qv in zip(tested, qs, strict=True):
            c.q = float(qv)
            c.alert = bool(np.isfinite(qv) and qv < q and c.gate_met)
            if c.alert:
                c.reason = f"{c.reason} (q {qv:.2g})"
    return list(checks)

