"""The checks of a training history — initial loss, decreasing, divergence, best
validation step, overfitting, variance, underfitting, learning-rate spikes — as plain
findings with their figures and a suggestion."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlscope.diagnose.history_read import FloatArray, History
from mlscope.errors import InputError, did_you_mean

__all__ = [
    "BLOWUP_FACTOR",
    "BLOWUP_LOST",
    "EDGE_SHARE",
    "INIT_ERROR",
    "INIT_HIGH",
    "INIT_LOW",
    "MAX_RANK_CORR",
    "MIN_DROP",
    "OVERFIT_RISE",
    "SPIKE_FACTOR",
    "SPIKE_WINDOW",
    "TASKS",
    "UNDERFIT_GAIN",
    "VARIANCE_RATIO",
    "HistoryFinding",
    "Severity",
    "check_history",
    "spearman",
]

Severity = Literal["info", "warning", "error"]

# -- thresholds (documented in check_history) -------------------------------------------

INIT_HIGH = 1.5
"""A first training loss above this multiple of every expected value is flagged."""
INIT_LOW = 0.5
"""A first training loss below this multiple of every expected value is flagged."""
INIT_ERROR = 3.0
"""Above this multiple the high initial loss is an error, not a warning."""
EDGE_SHARE = 0.2
"""The share of points at each end whose medians are compared (first vs last 20%)."""
MIN_DROP = 0.05
"""Training loss must fall by at least this share of its early median to count as falling."""
MAX_RANK_CORR = -0.2
"""…and its Spearman correlation with the step must be at most this."""
BLOWUP_FACTOR = 3.0
"""A late loss above this multiple of the minimum (and having lost half the progress)."""
BLOWUP_LOST = 0.5
"""Share of the progress (early median − minimum) a late loss must lose to be a blow-up."""
OVERFIT_RISE = 0.05
"""Validation loss rising by more than this share above its best, while training falls."""
VARIANCE_RATIO = 1.5
"""Validation loss above this multiple of the training loss at the best validation step."""
UNDERFIT_GAIN = 0.10
"""Training loss less than this share below the reference (trivial) loss is underfitting."""
SPIKE_FACTOR = 2.0
"""A training loss above this multiple of the median of the previous points is a spike."""
SPIKE_WINDOW = 5
"""Points before a spike in which a learning-rate increase counts as its cause."""

TASKS = ("binary", "multiclass", "regression", "errors")


@dataclass
class HistoryFinding:
    """What one check found in a training history.

    Attributes
    ----------
    check
        The check's id: ``initial_loss``, ``train_decreasing``, ``divergence``,
        ``best_val``, ``overfitting``, ``variance``, ``underfitting``, ``lr_spikes`` or
        ``best_checkpoint``.
    ok
        Whether the curve passes the check (an informative finding is ok).
    severity
        ``"info"``, ``"warning"`` or ``"error"``.
    message
        One or two sentences with the figures and, when not ok, what to try.
    figures
        The numbers behind the message (``None`` where undefined).
    """

    check: str
    ok: bool
    severity: Severity
    message: str
    figures: dict[str, float | None] = field(default_factory=dict)


# -- checks -------------------------------------------------------------------------------


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float | None:
    """Spearman's rank correlation (average ranks for ties); ``None`` when undefined.

    Computed here (Pearson on ranks) so that diagnosis does not need SciPy.
    """
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xa) < 3:
        return None
    rx = pd.Series(xa).rank().to_numpy(dtype=float)
    ry = pd.Series(ya).rank().to_numpy(dtype=float)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _f(x: float | None) -> str:
    """A figure with about three significant digits."""
    if x is None or not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if abs(x) < 1e5 else f"{x:.3e}"


def _pct(x: float) -> str:
    return f"{x * 100:+.0f}%"


def _binary_entropy(p: float) -> float:
    return float(-(p * math.log(p) + (1 - p) * math.log(1 - p)))


def _expectations(task: str, n_classes: int | None, positive_rate: float | None,
                  baseline_loss: float | None) -> list[tuple[str, float]]:
    """The initial losses a correctly wired model may start near: (description, value)."""
    out: list[tuple[str, float]] = []
    k = 2 if task == "binary" else n_classes if task == "multiclass" else None
    if k is not None:
        out.append((f"ln {k} = {math.log(k):.3f} (a uniform prediction over {k} classes)",
                    math.log(k)))
    if task == "binary" and positive_rate is not None:
        h = _binary_entropy(positive_rate)
        out.append((f"{h:.3f} (the entropy of the base rate {positive_rate:g}: a model "
                    "initialised at the prior)", h))
    if baseline_loss is not None:
        out.append((f"{baseline_loss:.3g} (the trivial baseline's loss)", baseline_loss))
    return out


def _reference(task: str, n_classes: int | None, positive_rate: float | None,
               baseline_loss: float | None) -> tuple[str, float] | None:
    """The loss of learning nothing, against which underfitting is judged."""
    if baseline_loss is not None:
        return "the trivial baseline", baseline_loss
    if task == "binary" and positive_rate is not None:
        return "the base-rate entropy", _binary_entropy(positive_rate)
    k = 2 if task == "binary" else n_classes if task == "multiclass" else None
    if k is not None:
        return f"ln {k} (a uniform prediction)", math.log(k)
    return None


def _check_args(task: str, n_classes: int | None, positive_rate: float | None,
                baseline_loss: float | None) -> None:
    if task not in TASKS:
        raise InputError(f"check_history: task {task!r} is not one of "
                         f"{', '.join(TASKS)}{did_you_mean(task, TASKS)}")
    if n_classes is not None and (isinstance(n_classes, bool) or n_classes < 2):
        raise InputError(f"check_history: n_classes must be at least 2, got {n_classes!r}")
    if positive_rate is not None and not 0 < positive_rate < 1:
        raise InputError("check_history: positive_rate must be strictly between 0 and 1, "
                         f"got {positive_rate!r}")
    if baseline_loss is not None and not (math.isfinite(baseline_loss) and baseline_loss > 0):
        raise InputError("check_history: baseline_loss must be a finite positive loss, got "
                         f"{baseline_loss!r}")


def check_history(history: History, *, task: str, n_classes: int | None = None,
                  positive_rate: float | None = None,
                  baseline_loss: float | None = None, metric: str | None = None,
                  higher_is_better: bool = True) -> list[HistoryFinding]:
    """Read a training history: what it says about the loss, the data and the model.

    Parameters
    ----------
    history
        From :func:`load_history`.
    task
        ``binary``, ``multiclass``, ``regression`` or ``errors`` (the charter's task).
    n_classes
        Number of classes of a multiclass task (its initial loss is expected near ln K).
    positive_rate
        Base rate of a binary task: a model initialised at the prior starts near the
        entropy of the base rate, which is also accepted.
    baseline_loss
        The trivial baseline's loss on the same data (e.g. predicting the base rate or the
        mean). Regression has an expected initial loss only with it; it is the reference
        for underfitting whenever given.
    metric, higher_is_better
        The metric logged per step (``history.val_metric``; the charter's optimised metric)
        and its direction: the ``best_checkpoint`` finding compares the step it is best at
        with the step of the lowest validation loss.

    Returns
    -------
    list of HistoryFinding
        In this order: ``initial_loss``, ``train_decreasing``, ``divergence``,
        ``best_val``, ``overfitting``, ``variance``, ``underfitting``, and ``lr_spikes``
        when a learning rate was logged, ``best_checkpoint`` when the metric was. A clean
        curve gives only ``ok`` findings.

    Notes
    -----
    Thresholds (module constants):

    - initial loss: flagged outside [``INIT_LOW``, ``INIT_HIGH``] = [0.5, 1.5] × every
      expected value (ln K; the base-rate entropy; the baseline); above 3 × an error.
    - decreasing: the median of the last 20% of finite training losses at least 5% below
      that of the first 20%, and Spearman's ρ(step, loss) ≤ −0.2.
    - divergence: a NaN/inf loss, or the median of the last points (up to 5) above 3 × the
      minimum having lost more than half of the progress made (early median − minimum).
    - overfitting: validation loss at the end (median of up to 3 points) more than 5% above
      its best while the training loss kept falling after that step.
    - variance: validation loss more than 1.5 × the training loss at the best step.
    - underfitting: the late training loss less than 10% below the reference (the
      baseline, else the base-rate entropy, else ln K).
    - lr spikes: a training loss above 2 × the median of the 5 points before it, counted
      as caused when the learning rate rose within those points.
    """
    _check_args(task, n_classes, positive_rate, baseline_loss)
    ts, tl = history.train()
    vs, vl = history.val()
    tfin = np.isfinite(tl)
    fs, fl = ts[tfin], tl[tfin]
    out = [
        _initial(ts, tl, task, n_classes, positive_rate, baseline_loss),
        _decreasing(fs, fl),
        _divergence(history, fs, fl),
    ]
    out += _validation(fs, fl, vs, vl, _reference(task, n_classes, positive_rate,
                                                  baseline_loss))
    if history.lr is not None and np.isfinite(history.lr).any():
        out.append(_lr_spikes(history, fs, fl))
    if history.val_metric is not None and np.isfinite(history.val_metric).sum() >= 2:
        out.append(_best_checkpoint(history, metric or "the metric", higher_is_better))
    return out


def _best_checkpoint(history: History, metric: str, higher: bool) -> HistoryFinding:
    """Do the validation loss and the charter's metric pick the same checkpoint?

    The checkpoint that ships should be the one the charter's metric prefers: a loss can
    keep falling (better calibrated probabilities) after the ranking or the operating
    point has stopped improving, and the other way round."""
    assert history.val_metric is not None
    step, loss, value = history.step, history.val_loss, history.val_metric
    ok = np.isfinite(value)
    # Ties: the earliest step (the cheaper checkpoint).
    im = int(np.flatnonzero(ok)[np.argmax(value[ok] if higher else -value[ok])])
    m_step, m_best = float(step[im]), float(value[im])
    both = ok & np.isfinite(loss)
    if not both.any():
        return HistoryFinding(
            "best_checkpoint", True, "info",
            f"{metric} is best at step {m_step:g} ({_f(m_best)}); no step logs both it and "
            "the validation loss, so the two are not compared.",
            {"metric_step": m_step, "metric_best": m_best})
    il = int(np.flatnonzero(both)[np.argmin(loss[both])])
    l_step, m_at_l = float(step[il]), float(value[il])
    figs: dict[str, float | None] = {"loss_step": l_step, "metric_step": m_step,
                                     "metric_best": m_best, "metric_at_loss_best": m_at_l,
                                     "loss_best": float(loss[il])}
    if m_at_l == m_best:
        return HistoryFinding(
            "best_checkpoint", True, "info",
            f"the validation loss and {metric} agree on the best checkpoint: step "
            f"{l_step:g} ({metric} {_f(m_best)}).", figs)
    return HistoryFinding(
        "best_checkpoint", False, "warning",
        f"the validation loss and {metric} disagree on the best checkpoint: the loss is "
        f"lowest at step {l_step:g}, where {metric} is {_f(m_at_l)}, but {metric} is best "
        f"at step {m_step:g} ({_f(m_best)}). Keep the checkpoint of step {m_step:g}: the "
        "charter judges the model on its metric, not on the loss (early-stop on the "
        "metric).", figs)


def _initial(ts: FloatArray, tl: FloatArray, task: str, n_classes: int | None,
             positive_rate: float | None, baseline_loss: float | None) -> HistoryFinding:
    first, at = float(tl[0]), float(ts[0])
    exp = _expectations(task, n_classes, positive_rate, baseline_loss)
    figs: dict[str, float | None] = {"first_loss": first, "first_step": at,
                                     "expected": None, "ratio": None}
    if not math.isfinite(first):
        return HistoryFinding(
            "initial_loss", False, "error",
            f"the first training loss (step {at:g}) is {first}: training breaks at once — "
            "check the input scaling, the loss on one batch (log of 0, division by 0) and "
            "the learning rate.", figs)
    if not exp:
        why = ("multiclass without n_classes" if task == "multiclass"
               else f"{task} without a baseline_loss")
        return HistoryFinding("initial_loss", True, "info",
                              f"first training loss {_f(first)} at step {at:g}; no expected "
                              f"value for {why}.", figs)
    # The expectation nearest on a log scale is the one the start is judged against.
    desc, e = min(exp, key=lambda d: abs(math.log(max(first, 1e-300) / d[1])))
    ratio = first / e
    figs.update(expected=e, ratio=ratio)
    if INIT_LOW <= ratio <= INIT_HIGH:
        return HistoryFinding("initial_loss", True, "info",
                              f"first training loss {_f(first)} is near the expected "
                              f"{desc}.", figs)
    if ratio > INIT_HIGH:
        if task in ("regression", "errors"):
            advice = ("an untrained model should start near it: standardise the targets "
                      "or initialise the output bias at the target mean, and check the "
                      "loss (units, a sum instead of a mean)")
        else:
            advice = ("check the loss (probabilities passed where logits are expected, "
                      "softmax applied twice, a sum instead of a mean over the batch), the "
                      "label format (one-hot vs class index, classes numbered from 1, "
                      "labels in {-1, 1}) and the initialisation (large output weights make "
                      "confident wrong predictions)")
        return HistoryFinding(
            "initial_loss", False, "error" if ratio > INIT_ERROR else "warning",
            f"first training loss {_f(first)} is {ratio:.1f}× the expected {desc}: "
            f"{advice}.", figs)
    return HistoryFinding(
        "initial_loss", False, "warning",
        f"first training loss {_f(first)} is only {ratio:.2f}× the expected {desc}: a model "
        "that has not learned yet cannot do this well — suspect data leakage (the label or "
        "a proxy among the inputs) or a loss computed on the wrong targets; or the first "
        "logged value averages many steps (log the loss before the first update).", figs)


def _edges(fl: FloatArray) -> tuple[float, float, int]:
    k = max(1, math.ceil(EDGE_SHARE * len(fl)))
    return float(np.median(fl[:k])), float(np.median(fl[-k:])), k


def _decreasing(fs: FloatArray, fl: FloatArray) -> HistoryFinding:
    if len(fl) < 3:
        return HistoryFinding("train_decreasing", True, "info",
                              f"not judged: {len(fl)} finite training loss(es).",
                              {"n_points": float(len(fl))})
    head, tail, k = _edges(fl)
    drop = (head - tail) / abs(head) if head != 0 else 0.0
    rho = spearman(fs, fl)
    figs: dict[str, float | None] = {"early_median": head, "late_median": tail,
                                     "drop": drop, "spearman": rho,
                                     "n_points": float(len(fl))}
    ok = drop >= MIN_DROP and (rho is None or rho <= MAX_RANK_CORR)
    rho_text = "undefined" if rho is None else f"{rho:.2f}"
    figures = (f"median of the last {k} points {_f(tail)} vs the first {k} {_f(head)} "
               f"({_pct(-drop)}), Spearman ρ(step, loss) = {rho_text}")
    if ok:
        return HistoryFinding("train_decreasing", True, "info",
                              f"training loss decreases: {figures}.", figs)
    verb = "is rising" if tail > head else "is not decreasing"
    return HistoryFinding(
        "train_decreasing", False, "warning",
        f"training loss {verb}: {figures}. Try: a learning rate 10× lower or higher (too "
        "low learns nothing, too high bounces), check that the optimiser step is applied "
        "(optimizer.step and zero_grad, parameters not frozen), and that the labels are not "
        "shuffled relative to the inputs.", figs)


def _divergence(history: History, fs: FloatArray, fl: FloatArray) -> HistoryFinding:
    advice = ("lower the learning rate (or its schedule's peak), clip gradients (e.g. to "
              "norm 1), and look for log(0) or division by zero in the loss; in fp16, use "
              "loss scaling or bf16")
    bad = [(float(s), float(v), name)
           for name, (ss, vv) in (("training", history.train()), ("validation", history.val()))
           for s, v in zip(ss, vv, strict=True) if not math.isfinite(v)]
    if bad:
        s, v, name = min(bad, key=lambda b: b[0])
        figs: dict[str, float | None] = {
            "nonfinite_step": s, "n_nonfinite": float(len(bad)),
            "min_loss": float(fl.min()) if len(fl) else None,
            "min_step": float(fs[int(np.argmin(fl))]) if len(fl) else None}
        before = (f" (minimum {_f(figs['min_loss'])} at step {figs['min_step']:g})"
                  if figs["min_step"] is not None and figs["min_step"] < s else "")
        return HistoryFinding("divergence", False, "error",
                              f"diverged: the {name} loss is {v} at step {s:g}{before}, "
                              f"{len(bad)} non-finite value(s) in all: {advice}.", figs)
    if len(fl) < 5:
        return HistoryFinding("divergence", True, "info",
                              "no NaN or inf; too few points to judge a blow-up.", {})
    head, _, _ = _edges(fl)
    r = max(1, min(5, len(fl) // 10))
    late = float(np.median(fl[-r:]))
    i_min = int(np.argmin(fl))
    lo = float(fl[i_min])
    ratio = late / lo if lo > 0 else math.inf
    figs = {"min_loss": lo, "min_step": float(fs[i_min]), "late_loss": late,
            "ratio": ratio if math.isfinite(ratio) else None}
    blow = late > BLOWUP_FACTOR * lo and (late - lo) > BLOWUP_LOST * max(head - lo, 0.0)
    if blow:
        return HistoryFinding(
            "divergence", False, "error",
            f"training loss blew up: {_f(late)} over the last {r} point(s) vs its minimum "
            f"{_f(lo)} at step {fs[i_min]:g} ({_f(ratio)}×): {advice}.", figs)
    return HistoryFinding("divergence", True, "info",
                          f"no divergence: no NaN or inf, and the late loss {_f(late)} is "
                          f"near the minimum {_f(lo)}.", figs)


def _validation(fs: FloatArray, fl: FloatArray, vs: FloatArray, vl: FloatArray,
                ref: tuple[str, float] | None) -> list[HistoryFinding]:
    vfin = np.isfinite(vl)
    s, v = vs[vfin], vl[vfin]
    if len(v) == 0 or len(fl) == 0:
        msg = "not judged: no finite validation or training loss."
        return [HistoryFinding(c, True, "info", msg, {})
                for c in ("best_val", "overfitting", "variance", "underfitting")]
    ib = int(np.argmin(v))
    best_step, best = float(s[ib]), float(v[ib])
    train_at = float(np.interp(best_step, fs, fl))
    out: list[HistoryFinding] = []

    still = ib == len(v) - 1 and len(v) >= 3
    out.append(HistoryFinding(
        "best_val", True, "info",
        f"best validation loss {_f(best)} at step {best_step:g} (last step {s[-1]:g})"
        + ("; still falling at the last evaluation: training longer may help." if still
           else "."),
        {"best_step": best_step, "best_val": best, "train_at_best": train_at,
         "last_step": float(s[-1])}))

    # Overfitting: validation rises after its best while training keeps falling.
    after = v[ib + 1:]
    r = max(1, min(3, len(after)))
    last_v = float(np.median(after[-r:])) if len(after) else best
    train_end = float(np.median(fl[-r:]))
    rise = (last_v - best) / abs(best) if best != 0 else 0.0
    figs: dict[str, float | None] = {
        "since_step": best_step, "best_val": best, "last_val": last_v, "rise": rise,
        "train_at_best": train_at, "last_train": train_end,
        "gap_at_best": best - train_at, "gap_last": last_v - train_end}
    if rise > OVERFIT_RISE and train_end < train_at:
        out.append(HistoryFinding(
            "overfitting", False, "warning",
            f"overfitting since step {best_step:g}: validation loss rose from its best "
            f"{_f(best)} to {_f(last_v)} ({_pct(rise)}) while training loss fell from "
            f"{_f(train_at)} to {_f(train_end)}; the gap grew from {_f(best - train_at)} to "
            f"{_f(last_v - train_end)}. Keep the checkpoint of step {best_step:g} (early "
            "stopping), regularise (weight decay, dropout, augmentation) or add data.", figs))
    elif rise > OVERFIT_RISE:
        out.append(HistoryFinding(
            "overfitting", False, "warning",
            f"validation loss rose from {_f(best)} at step {best_step:g} to {_f(last_v)} "
            f"({_pct(rise)}) while training loss did not fall ({_f(train_at)} → "
            f"{_f(train_end)}): not overfitting — look at the training curve (divergence, "
            "the learning-rate schedule) and at the validation data.", figs))
    else:
        out.append(HistoryFinding(
            "overfitting", True, "info",
            f"no overfitting: validation loss ends at {_f(last_v)}, {_pct(rise)} from its "
            f"best {_f(best)}.", figs))

    # Variance: a large gap between validation and training at the best step.
    ratio = best / train_at if train_at > 0 else None
    vfigs: dict[str, float | None] = {"val": best, "train": train_at, "ratio": ratio,
                                      "gap": best - train_at, "step": best_step}
    if ratio is not None and ratio > VARIANCE_RATIO:
        out.append(HistoryFinding(
            "variance", False, "warning",
            f"validation loss {_f(best)} is {ratio:.1f}× the training loss {_f(train_at)} "
            f"at its best (step {best_step:g}), a gap of {_f(best - train_at)}: high "
            "variance — more data, regularisation or a smaller model; also check that "
            "training and validation come from the same distribution.", vfigs))
    else:
        text = "undefined" if ratio is None else f"{ratio:.2f}×"
        out.append(HistoryFinding(
            "variance", True, "info",
            f"validation/training loss at the best step: {text} ({_f(best)} vs "
            f"{_f(train_at)}).", vfigs))

    # Underfitting: training loss barely below what learning nothing gives.
    _, tail, _ = _edges(fl)
    if ref is None:
        out.append(HistoryFinding(
            "underfitting", True, "info",
            "not judged: give baseline_loss (the trivial baseline's loss) to compare the "
            "training loss with learning nothing.", {"late_train": tail}))
        return out
    name, level = ref
    gain = (level - tail) / level
    ufigs: dict[str, float | None] = {"late_train": tail, "reference": level, "gain": gain,
                                      "best_val": best}
    if gain < 0:
        out.append(HistoryFinding(
            "underfitting", False, "warning",
            f"training loss {_f(tail)} is above {name} {_f(level)}: the model does worse "
            f"than learning nothing (validation at best {_f(best)}) — check the loss, the "
            "labels and the learning rate.", ufigs))
    elif gain < UNDERFIT_GAIN:
        out.append(HistoryFinding(
            "underfitting", False, "warning",
            f"training loss {_f(tail)} barely below {name} {_f(level)} ({gain:.0%} lower; "
            f"validation at best {_f(best)}): underfitting — a larger model, better "
            "features, longer training or a higher learning rate; or the inputs carry "
            "little signal.", ufigs))
    else:
        out.append(HistoryFinding(
            "underfitting", True, "info",
            f"training loss {_f(tail)} is {gain:.0%} below {name} {_f(level)}.", ufigs))
    return out


def _lr_spikes(history: History, fs: FloatArray, fl: FloatArray) -> HistoryFinding:
    assert history.lr is not None
    has = np.isfinite(history.lr)
    ls, lv = history.step[has], history.lr[has]
    # The learning rate in force at each training point: the last one logged at or before.
    idx = np.searchsorted(ls, fs, side="right") - 1
    lr_at = np.where(idx >= 0, lv[np.clip(idx, 0, None)], np.nan)
    spikes: list[int] = []
    caused: list[int] = []
    for i in range(2, len(fl)):
        w = fl[max(0, i - SPIKE_WINDOW):i]
        if fl[i] > SPIKE_FACTOR * float(np.median(w)):
            spikes.append(i)
            j = max(0, i - SPIKE_WINDOW)
            prior = lr_at[j:i]
            if np.isfinite(lr_at[i]) and np.isfinite(prior).any() and \
                    lr_at[i] > np.nanmin(prior) * (1 + 1e-9):
                caused.append(i)
    figs: dict[str, float | None] = {"n_spikes": float(len(spikes)),
                                     "after_lr_increase": float(len(caused))}
    if not spikes:
        return HistoryFinding("lr_spikes", True, "info", "no loss spikes.", figs)
    steps = ", ".join(f"{fs[i]:g}" for i in (caused or spikes)[:5])
    if caused:
        return HistoryFinding(
            "lr_spikes", False, "warning",
            f"{len(spikes)} loss spike(s), {len(caused)} right after a learning-rate increase "
            f"(steps {steps}): the peak learning rate is too high for this point of "
            "training — lower it or lengthen the warm-up.", figs)
    return HistoryFinding("lr_spikes", True, "info",
                          f"{len(spikes)} loss spike(s) (steps {steps}), none after a "
                          "learning-rate increase.", figs)
