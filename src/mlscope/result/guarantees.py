"""Risk-controlled thresholds in the result (``result.guarantees``).

Plain data, written by :mod:`mlscope.pipeline.guarantees`; see docs/deciding.md.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ThresholdGuarantee"]


@dataclass
class ThresholdGuarantee:
    """A threshold chosen so that a requirement holds on new exchangeable data with
    probability at least ``1 − delta``, on one slice (``overall`` or a slice key).

    ``threshold`` is None when nothing qualifies; ``message`` then says how many more
    labelled rows would (about) certify it. ``certified`` is the (1 − δ) exact bound of
    the metric at the threshold (at the level the procedure used, ``delta_used``);
    ``calibration`` and ``report`` its empirical values on the calibration (selection)
    and report splits.
    """

    metric: str
    requirement: str
    delta: float
    model: str
    slice: str
    threshold: float | None
    certified: float | None
    calibration: float | None
    report: float | None
    procedure: str
    delta_used: float
    n_calibration: int
    message: str = ""
    more_rows: int | None = None
