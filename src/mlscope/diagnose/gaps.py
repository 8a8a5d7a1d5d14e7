"""The four gaps of the engineering loop, the bottleneck, and the next steps.

Errors are oriented so that higher is worse: a lower-is-better metric is its own error; a
higher-is-better metric bounded above (accuracy, ROC AUC: at most 1) has error
``bound − value``; an unbounded one ``−value``. Each gap is ``error(later) −
error(earlier)`` between consecutive stages:

==================== ======================= ==========================================
gap                  stages                  reads as
==================== ======================= ==========================================
avoidable bias       baseline → train        underfitting: not even the training data
variance             train → train-dev       overfitting: unseen data of the same kind
mismatch             train-dev → validation  the validation data differ from training
validation overfit   validation → test       the choices were tuned to the validation set
==================== ======================= ==========================================

Without a train-dev split, variance and mismatch cannot be told apart: their sum
(train → validation) is reported instead. A gap counts when it exceeds both the practical
margin and its uncertainty (the lower end of its bootstrap interval is above 0).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from mlscope.result.diagnosis import Gap, NextStep, SplitValue

__all__ = ["GAP_ORDER", "beyond", "compute_gaps", "default_margin", "next_steps", "orient",
           "why_not_counted"]

FloatArray = npt.NDArray[np.float64]

GAP_ORDER = ("avoidable_bias", "variance", "variance_or_mismatch", "mismatch",
             "validation_overfit")
_LABELS = {
    "avoidable_bias": "avoidable bias",
    "variance": "variance",
    "mismatch": "distribution mismatch",
    "variance_or_mismatch": "variance + mismatch",
    "validation_overfit": "overfitting the validation set",
}
_STAGE = {"baseline": "the upper baseline", "train": "train", "train_dev": "train-dev",
          "validation": "validation", "test": "test"}
# The words of a gap's reason when it is within the margin (read back by why_not_counted).
_WITHIN_MARGIN = "is within the practical margin"


def orient(value: float, direction: str, upper_bound: float | None) -> float:
    """The metric as an error: higher is worse."""
    if direction == "lower":
        return value
    return (upper_bound - value) if upper_bound is not None else -value


def beyond(gap: float, margin: float, *scale: float) -> bool:
    """Whether ``gap`` exceeds ``margin`` by more than floating-point rounding.

    Errors of a bounded metric are differences such as ``1 − 0.99``, which is
    0.010000000000000009, not 0.01: a plain ``gap > margin`` would count a gap *equal* to
    the margin. The tolerance is relative to the size of the numbers involved (``scale``:
    the errors the gap came from), so it never hides a real difference.
    """
    size = max([1.0, abs(gap), abs(margin), *(abs(x) for x in scale)])
    return gap > margin + 1e-9 * size


def default_margin(bounds: tuple[float | None, float | None], reference: float | None) -> float:
    """The practical margin when the charter gives none: 0.01 on a metric bounded in
    [0, 1] (one point of accuracy or AUC), else 1% of the reference value's size."""
    lo, hi = bounds
    if lo is not None and hi is not None and hi - lo <= 1.0 + 1e-12:
        return 0.01 * (hi - lo)
    if reference is not None and reference != 0:
        return 0.01 * abs(reference)
    return 0.01


def compute_gaps(
    values: Mapping[str, SplitValue],
    reps: Mapping[str, FloatArray | None],
    *,
    direction: str,
    upper_bound: float | None,
    margin: float,
    level: float = 0.95,
) -> list[Gap]:
    """The gaps between consecutive stages present in ``values``.

    ``values`` maps a role (``baseline``, ``train``, ``train_dev``, ``validation``,
    ``test``) to the metric there; ``reps`` the role's bootstrap replicates (independent
    between splits; None for a fixed baseline).
    """
    def err(role: str) -> float | None:
        v = values.get(role)
        if v is None or v.value is None:
            return None
        return orient(v.value, direction, upper_bound)

    def err_reps(role: str) -> FloatArray | None:
        r = reps.get(role)
        if r is None:
            e = err(role)
            return None if e is None else np.asarray([e])
        if direction == "lower":
            return np.asarray(r, dtype=np.float64)
        return (upper_bound - r) if upper_bound is not None else -np.asarray(r)

    has_td = err("train_dev") is not None
    pairs: list[tuple[str, str, str]] = [("avoidable_bias", "baseline", "train")]
    if has_td:
        pairs += [("variance", "train", "train_dev"), ("mismatch", "train_dev", "validation")]
    else:
        pairs += [("variance_or_mismatch", "train", "validation")]
    pairs += [("validation_overfit", "validation", "test")]
    out: list[Gap] = []
    for name, a, b in pairs:
        ea, eb = err(a), err(b)
        gap = Gap(name=name, label=_LABELS[name], frm=a, to=b,  # type: ignore[arg-type]
                  value=None, lower=None, upper=None, margin=margin, counts=False)
        if ea is None or eb is None:
            missing = [_STAGE[r] for r, e in ((a, ea), (b, eb)) if e is None]
            gap.reason = f"no value on {' or '.join(missing)}"
            out.append(gap)
            continue
        gap.value = eb - ea
        ra, rb = err_reps(a), err_reps(b)
        if ra is not None and rb is not None and (ra.size > 1 or rb.size > 1):
            n = max(ra.size, rb.size)
            da = ra if ra.size == n else np.full(n, ra[0]) if ra.size == 1 else ra[:n]
            db = rb if rb.size == n else np.full(n, rb[0]) if rb.size == 1 else rb[:n]
            d = db - da
            d = d[np.isfinite(d)]
            if d.size >= 2:
                alpha = (1.0 - level) / 2.0
                lo, hi = np.quantile(d, [alpha, 1.0 - alpha])
                gap.lower, gap.upper = float(lo), float(hi)
        beyond_margin = beyond(gap.value, margin, ea, eb)
        beyond_noise = gap.lower is not None and gap.lower > 0
        gap.counts = bool(beyond_margin and beyond_noise)
        if not beyond_margin:
            # A later stage that does better is no gap at all, not one "within the margin".
            gap.reason = (f"{_signed(gap.value)}: {_STAGE[b]} is no worse than {_STAGE[a]}"
                          if gap.value <= 0 else
                          f"{gap.value:+.4g} {_WITHIN_MARGIN} {margin:.4g}")
        elif not beyond_noise:
            gap.reason = ("its interval includes 0: not distinguishable from noise"
                          if gap.lower is not None else "no interval to tell it from noise")
        out.append(gap)
    return out


def why_not_counted(gap: Gap) -> str:
    """Why a gap with a value does not count, in a few words (the terminal's table): the
    later stage is no worse, the gap is within the margin, or within noise, as
    :func:`compute_gaps` gave its reason."""
    if gap.value is not None and gap.value <= 0:
        return f"{_STAGE[gap.to]} no worse"
    return "within the margin" if _WITHIN_MARGIN in (gap.reason or "") else "within noise"


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def _signed(x: float | None) -> str:
    """A gap with its sign (a true minus) and the precision of the stages' values: four
    decimals on a metric of a few units or less, four significant digits beyond."""
    if x is None:
        return "—"
    text = f"{abs(x):.4f}" if abs(x) < 10 else f"{abs(x):.4g}"
    return text if float(text) == 0 else ("+" if x > 0 else "−") + text


def next_steps(gaps: list[Gap], values: Mapping[str, SplitValue], *, metric: str,
               upper_kind: str | None) -> tuple[str | None, list[NextStep]]:
    """The bottleneck (the largest gap that counts) and every counting gap's next steps,
    in the order practitioners fix them: underfitting, overfitting, mismatch, then the
    validation set."""
    by = {g.name: g for g in gaps}
    counting = [g for g in gaps if g.counts and g.value is not None]
    bottleneck = max(counting, key=lambda g: g.value or 0.0).name if counting else None

    def v(role: str) -> str:
        sv = values.get(role)
        return _fmt(sv.value if sv else None)

    def ev(g: Gap) -> str:
        ci = (f" [{_signed(g.lower)}, {_signed(g.upper)}]" if g.lower is not None
              and g.upper is not None else "")
        return (f"{g.label} {_signed(g.value)}{ci} ({metric}: {_STAGE[g.to]} {v(g.to)} vs "
                f"{_STAGE[g.frm]} {v(g.frm)}; margin {g.margin:.3g})")

    steps: list[NextStep] = []
    bias = by.get("avoidable_bias")
    if bias is not None and bias.counts:
        steps.append(NextStep(
            area="underfitting", title="Underfitting: fit the training data better first",
            evidence=ev(bias),
            actions=["a bigger or more expressive model (more layers or units, deeper trees, "
                     "richer features)",
                     "tune the optimizer: learning rate, momentum, initialization; train longer",
                     "check that the model can memorize a small sample (a few hundred rows): "
                     "if it cannot, there is a bug",
                     "inspect training examples for wrong or corrupt labels"]))
    elif (bias is not None and bias.value is not None and beyond(-bias.value, bias.margin)
          and upper_kind == "human"):
        steps.append(NextStep(
            area="above-human", title="Above the human-level proxy on the training data",
            evidence=ev(bias),
            actions=["the usual bias/variance tools weaken here: without a better yardstick, "
                     "use error analysis on slices (below) to find what is left",
                     "get a stronger reference (an expert panel) if the target needs it"]))
    for name in ("variance", "variance_or_mismatch"):
        g = by.get(name)
        if g is not None and g.counts:
            actions = ["more training data (see the learning curve, if given)",
                       "data augmentation",
                       "regularization: weight decay, dropout, early stopping, smaller trees",
                       "a different model class"]
            if name == "variance_or_mismatch":
                actions.append("split a train-dev set off the training data (same "
                               "distribution, never trained on) to tell overfitting from "
                               "distribution mismatch")
            steps.append(NextStep(
                area="overfitting", title=("Overfitting" if name == "variance" else
                                           "Overfitting or distribution mismatch"),
                evidence=ev(g), actions=actions))
    g = by.get("mismatch")
    if g is not None and g.counts:
        steps.append(NextStep(
            area="mismatch", title="Distribution mismatch between training and validation",
            evidence=ev(g),
            actions=["collect, or weight, training data like the validation set",
                     "check the label and feature pipelines for skew between training and "
                     "serving (units, encodings, time windows)",
                     "error analysis: which slices differ most between the two"]))
    g = by.get("validation_overfit")
    if g is not None and g.counts:
        steps.append(NextStep(
            area="validation", title="Overfitting the validation set",
            evidence=ev(g),
            actions=["get a fresh validation set",
                     "count how often the validation set has been consulted, and consult it "
                     "less (decide more on train-dev)"]))
    return bottleneck, steps
