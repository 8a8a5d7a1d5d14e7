"""The typed values that flow between the evaluation's stages.

Each stage of :mod:`mlscope.pipeline` takes some of these and returns one; the stages are
listed, in order, in :func:`mlscope.evaluation.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mlscope.charter.schema import Charter
from mlscope.compare.wiring import SliceMasks
from mlscope.data.source import EvalTable
from mlscope.engine.plan import Grouping
from mlscope.engine.protocol import Engine
from mlscope.measure import Metric
from mlscope.result import (
    BaselineInfo,
    CheckResult,
    ConfusionMatrix,
    Difference,
    MetricValue,
    ReliabilityCurve,
    RequirementCheck,
    Selection,
    SliceInfo,
    Standing,
    ThresholdChoice,
)

__all__ = [
    "Choice",
    "Comparisons",
    "Decision",
    "FlagWarning",
    "HumanLevel",
    "MetricTable",
    "Replicates",
    "Run",
    "RunPlan",
    "ValueKey",
]

FloatArray = npt.NDArray[np.float64]
# A value's place: (split, model index, slice key, metric id).
ValueKey = tuple[str, int, str, str]


@dataclass
class Run:
    """The run as opened: the charter, its data, the engine and the run's settings.

    ``warnings`` and ``timings`` collect, in order, what each stage has to say and how
    long it took; the result reports both.
    """

    charter: Charter
    charter_path: Path | None
    base_dir: Path
    engine: Engine
    table: EvalTable
    seed: int
    resamples: int
    level: float
    # The loader's own warnings (kept apart: selection repeats one of them).
    charter_warnings: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    baselines: list[BaselineInfo] = field(default_factory=list)
    # More of `result.data`, from the stages that measure the data (data.time's stability).
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunPlan:
    """What to evaluate: the splits (all, and those with intervals), the slice groupings
    and their levels, the resolved metrics, and the model to diagnose."""

    selection_split: str
    report_split: str | None
    eval_splits: list[str]
    boot_splits: list[str]
    groupings: list[Grouping]
    levels: list[list[str]]
    metrics: list[Metric]
    y_shift: float = 0.0
    diagnose: bool = False
    diagnose_model: str | None = None

    @property
    def requirement_split(self) -> str:
        """Requirements are checked on the report split, else the selection split."""
        return self.report_split or self.selection_split


@dataclass
class MetricTable:
    """Every metric's point value per split × model × slice, in the documented order
    (split, then model, slice and metric), with the operating thresholds chosen on the
    selection split and the trials behind each proportion-like value."""

    slices: dict[str, SliceInfo]
    index: dict[ValueKey, MetricValue]
    thresholds: dict[tuple[int, str], float | None]
    threshold_rows: list[ThresholdChoice]
    trials: dict[ValueKey, float | None]
    confusion: list[ConfusionMatrix]
    # Binary: each model's reliability curve on the selection split (overall), made while
    # its statistics are at hand, so the calibration stage need not compute them again.
    curves: dict[int, ReliabilityCurve] = field(default_factory=dict)

    @property
    def values(self) -> list[MetricValue]:
        return list(self.index.values())


@dataclass
class Replicates:
    """Bootstrap replicates of every defined value on the splits with intervals (the
    same resamples for every model and slice: paired), and how they were drawn."""

    values: dict[ValueKey, FloatArray] = field(default_factory=dict)
    note: str = ""


@dataclass
class Choice:
    """The selection on the selection split, and the blessed (production) model."""

    selection: Selection
    winner: str | None
    # The winner, else the best-ranked model: what differences are taken against.
    top: str | None
    blessed: str | None
    blessed_stored: Any
    blessed_source: Any
    baseline_models: list[str]


@dataclass
class Comparisons:
    """Paired differences against the top and blessed models, and the charter's pairs."""

    differences: list[Difference]
    pairs: list[Any]
    masks: SliceMasks


@dataclass
class HumanLevel:
    """The human-level ladder and its item-bootstrap replicates (None: no human baseline)."""

    result: Any = None
    replicates: dict[tuple[str, str | None, str], Any] = field(default_factory=dict)
    split: str | None = None


@dataclass
class FlagWarning:
    """A candidate that does not clearly beat the trivial baseline: on which metrics, why
    (``cause``: the standings' ``flag_cause``), and the warning's text. Kept structured
    until the calibration stage, which may explain it by the model's miscalibration."""

    model: str
    cause: str
    metrics: list[str]
    text: str


@dataclass
class Decision:
    """Where the run stands: standings against the baselines, the requirements, the
    check verdict and the status that sets the exit code."""

    standings: list[Standing]
    families: dict[str, str | None]
    requirements: list[RequirementCheck]
    check: CheckResult | None
    status: Literal["requirements_met", "requirements_not_met", "no_decision"]
    # Not yet in run.warnings: the calibration stage adds those it does not explain.
    flags: list[FlagWarning] = field(default_factory=list)
