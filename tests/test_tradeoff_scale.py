"""The trade-off chart keeps the models readable when a trivial baseline is far off.

A majority-class baseline's log loss (every row given probability 1 for one class: about 9
here, 32 on ten classes) beside the models' 0.7–1.0 squeezed every model into one corner of
the chart, their labels on top of each other (digits QA). Such a baseline is named below
the chart with its values instead of drawn; a baseline near the models is drawn.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import mlscope
from mlscope.report.tradeoff import tradeoff_chart
from tests.conftest import base_charter

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_far_trivial_baseline_is_named_not_drawn(project: Callable[..., Path]) -> None:
    charter = base_charter(
        metrics=["roc_auc", "log_loss"],
        selection={"rule": "satisficing", "optimize": "roc_auc"},
        baselines={"majority": {"kind": "majority"}, "prior": {"kind": "prior"}},
        splits={"train": "train", "selection": "validation", "report": "test"},
        report={"tradeoff": ["log_loss", "roc_auc"]},
    )
    charter["data"]["models"] = {"good": "p_good", "fair": "p_fair"}
    res = mlscope.evaluate(project(charter=charter))
    maj = res.value("log_loss", "majority", split="validation").value
    models = [res.value("log_loss", m, split="validation").value for m in ("good", "fair")]
    assert maj > 4 * max(models)  # the case: far beyond the models
    svg = tradeoff_chart(res)
    words = _texts(svg)
    root = ET.fromstring(svg)
    drawn = {g.get("data-model") for g in root.iter() if g.get("data-model")}
    assert "majority" not in drawn
    note = next(w for w in words if w.startswith("off the chart"))
    assert "majority (Log loss" in note
    assert f"{maj:.2f}"[:3] in note
    # The prior baseline (log loss near the models') stays on the chart, as do the models.
    assert {"prior", "good", "fair"} <= drawn
    # The x axis spans the drawn models, not the far baseline.
    ticks = [float(w.replace("−", "-")) for w in words if _number(w)]
    assert max(ticks) < maj


def _number(text: str) -> bool:
    try:
        float(text.replace("−", "-"))
    except ValueError:
        return False
    return True
