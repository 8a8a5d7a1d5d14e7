"""The typed, versioned result of an evaluation: what every renderer reads.

A result is plain data. It round-trips through JSON (:meth:`EvaluationResult.to_dict` /
:meth:`EvaluationResult.from_dict`); renderers never recompute metrics from it.
The JSON schema is documented in ``docs/result-schema.md``; ``schema`` names its version.

The package: :mod:`~mlscope.result.core` (the result and its parts),
:mod:`~mlscope.result.human` (the human-level ladder), :mod:`~mlscope.result.diagnosis`
(the diagnosis), :mod:`~mlscope.result.verdict` (the launch verdict) and
:mod:`~mlscope.result.decode` (rebuilding them from JSON data).
"""

from mlscope.result.calibration import ReliabilityCurve
from mlscope.result.core import (
    FLAGS_NONE,
    OVERALL,
    SCHEMA_VERSION,
    BaselineInfo,
    CheckResult,
    ConfusionMatrix,
    ConstraintCheck,
    DecisionConfidence,
    Difference,
    EvaluationResult,
    GateCheck,
    IntervalInfo,
    MetricInfo,
    MetricValue,
    ModelInfo,
    PairComparison,
    PairedTest,
    RequirementCheck,
    RuleOutcome,
    Selection,
    SliceInfo,
    Standing,
    ThresholdChoice,
    new_run_id,
)
from mlscope.result.decode import decode_dataclass
from mlscope.result.diagnosis import Diagnosis
from mlscope.result.guarantees import ThresholdGuarantee
from mlscope.result.hitl import CoveragePoint, DeferralSlice, HumanInTheLoop, TopKAccuracy
from mlscope.result.human import HumanLevel
from mlscope.result.scope import Scope, ScopeCell
from mlscope.result.verdict import Verdict, VerdictReason

__all__ = [
    "FLAGS_NONE",
    "OVERALL",
    "SCHEMA_VERSION",
    "BaselineInfo",
    "CheckResult",
    "ConfusionMatrix",
    "ConstraintCheck",
    "CoveragePoint",
    "DecisionConfidence",
    "DeferralSlice",
    "Diagnosis",
    "Difference",
    "EvaluationResult",
    "GateCheck",
    "HumanInTheLoop",
    "HumanLevel",
    "IntervalInfo",
    "MetricInfo",
    "MetricValue",
    "ModelInfo",
    "PairComparison",
    "PairedTest",
    "ReliabilityCurve",
    "RequirementCheck",
    "RuleOutcome",
    "Scope",
    "ScopeCell",
    "Selection",
    "SliceInfo",
    "Standing",
    "ThresholdChoice",
    "ThresholdGuarantee",
    "TopKAccuracy",
    "Verdict",
    "VerdictReason",
    "decode_dataclass",
    "new_run_id",
]
