"""Whose learning curve the diagnosis shows, and how to say so.

A learning curve refitted from a learned baseline (``refit: simple_logistic``) answers
"how much data would a logistic regression need", not "how much data does the diagnosed
gradient-boosted model need": different model families learn at different rates. The
diagnosis therefore prefers measured points of the diagnosed model, and when it has to
use a stand-in it says so in the headline and explains how to give the real model's points.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlscope.charter.schema import LearningCurveSpec

__all__ = ["CurveSource", "curve_source", "how_to_measure"]

_HEADLINE = "How much data the target needs"


@dataclass(frozen=True)
class CurveSource:
    """Where the curve's points come from.

    Attributes
    ----------
    source
        One sentence for the report: measured or refitted, and of which model.
    headline
        The title of the "data needed" finding; names the stand-in when there is one.
    curve_model
        The model or baseline whose curve it is.
    refit
        The learned baseline to refit, or ``None`` to use the measured points.
    stand_in
        ``None`` when the curve is the diagnosed model's own; else ``{"name", "how",
        "kind", "diagnosed"}`` (``how`` is ``"refit"`` or ``"measured"``).
    how_to_measure
        With a stand-in: how to give the diagnosed model's own points; else ``None``.
    """

    source: str
    headline: str
    curve_model: str
    refit: str | None
    stand_in: dict[str, Any] | None
    how_to_measure: str | None


def how_to_measure(model: str, metric: str, train: str | None, validation: str) -> str:
    """How to give the diagnosed model's own learning curve in the charter."""
    tr = f"the `{train}` split" if train else "the training split"
    return (f"To estimate the data `{model}` itself needs, train `{model}` on growing "
            f"subsets of {tr} (e.g. 10%, 20%, 40%, 80% and 100% of its rows, the same "
            f"settings each time), score each fit on the `{validation}` split with "
            f"{metric}, and give the points in the charter: `diagnosis: learning_curve: "
            f"{{sizes: [n1, n2, ...], values: [v1, v2, ...], model: {model}}}`. Measured "
            "points of the diagnosed model are used in preference to a refitted stand-in.")


def curve_source(spec: LearningCurveSpec, *, model: str, kinds: Mapping[str, str],
                 metric: str, train: str | None, validation: str) -> CurveSource:
    """Choose the curve's points for diagnosing ``model`` and describe them.

    Measured points of ``model`` (``spec.model`` unset or equal to it) come first; else
    the refitted baseline, else measured points of another model; both named as a
    stand-in.
    """
    measured = spec.sizes is not None and spec.values is not None
    of = spec.model or model
    if measured and of == model:
        return CurveSource(source=f"measured points of `{model}` (the charter's "
                                  "diagnosis.learning_curve)",
                           headline=_HEADLINE, curve_model=model, refit=None, stand_in=None,
                           how_to_measure=None)
    how = how_to_measure(model, metric, train, validation)
    if spec.refit is not None:
        kind = kinds.get(spec.refit) or "learned"
        tr = f"the `{train}` split" if train else "the training split"
        source = (f"a refitted stand-in, not `{model}`: the `{spec.refit}` baseline ({kind})"
                  f" refitted on growing subsets of {tr}")
        if measured:
            source += f"; the charter's measured points are of `{of}`, not `{model}`"
        return CurveSource(
            source=source,
            headline=(f"Data needed, estimated from a refitted stand-in `{spec.refit}`, "
                      f"not `{model}`"),
            curve_model=spec.refit, refit=spec.refit,
            stand_in={"name": spec.refit, "how": "refit", "kind": kind, "diagnosed": model},
            how_to_measure=how)
    return CurveSource(
        source=f"measured points of `{of}` (diagnosis.learning_curve.model), not of `{model}`",
        headline=f"Data needed, estimated from the measured curve of `{of}`, not `{model}`",
        curve_model=of, refit=None,
        stand_in={"name": of, "how": "measured", "kind": None, "diagnosed": model},
        how_to_measure=how)
