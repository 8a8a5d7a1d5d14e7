"""Human-level performance from annotators' labels: a ladder of human baselines.

Several annotators label the same items. From their labels this module builds *rungs* of
human performance, each scored with mlscope's own metric registry against a reference:

1. **single annotator** (the "typical human"): every annotator scored on their own items;
2. **majority of k**: the vote of k annotators drawn at random per item;
3. **Dawid–Skene** (classification) or **median of annotators** (regression): an aggregate
   of every annotator's label;
4. **expert panel**: the gold reference itself, when there is one (the yardstick, unscored).

Models are scored on exactly the items and references each rung was scored on, so the
comparison is like for like; agreement between annotators (Krippendorff's alpha, Fleiss'
kappa, pairwise percent agreement) says whether a human ceiling means anything at all.
How each number is computed is in ``docs/human-level.md``.

This module is the public entry point; the work is done in
:mod:`~mlscope.baselines.annotations` (loading labels), :mod:`~mlscope.baselines.human_data`
(labels as arrays), :mod:`~mlscope.baselines.agreement` (agreement statistics),
:mod:`~mlscope.baselines.human_scoring` (scoring and bootstrap) and
:mod:`~mlscope.baselines.ladder` (the rungs).
"""


from __future__ import annotations

from mlscope.baselines.agreement import ALPHA_TENTATIVE, fleiss_kappa
from mlscope.baselines.annotations import load_annotations
from mlscope.baselines.ladder import human_ladder
from mlscope.result.human import (
    Agreement,
    HumanLevel,
    HumanMetricSpec,
    HumanRung,
    HumanValue,
    ModelOnHumanItems,
)

__all__ = [
    "ALPHA_TENTATIVE",
    "Agreement",
    "HumanLevel",
    "HumanMetricSpec",
    "HumanRung",
    "HumanValue",
    "ModelOnHumanItems",
    "fleiss_kappa",
    "human_ladder",
    "load_annotations",
]
