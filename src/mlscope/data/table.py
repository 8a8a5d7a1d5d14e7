"""The canonical evaluation table: the DuckDB view ``ev`` and what its columns mean.

:func:`mlscope.data.source.open_evaluation` builds it (and re-exports the class); the
checks of :mod:`mlscope.data.checks` read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

__all__ = ["EvalTable"]


@dataclass
class EvalTable:
    """The canonical evaluation view and what its columns mean."""

    con: duckdb.DuckDBPyConnection
    task: str
    models: list[str]
    classes: list[str]
    slice_columns: list[str]
    where: dict[str, str]
    errors: list[str]
    has_weight: bool
    splits: list[str]
    n_rows: int
    sources: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    view: str = "ev"
    # The user's own rows, for baselines that read features or run a rule: a SELECT of
    # __id, __split, __label and every column of the base table (see `base_frame`).
    base_sql: str = ""
    base_label: str = ""
    base_columns: list[str] = field(default_factory=list)
    base_types: dict[str, str] = field(default_factory=dict)
    view_sql: str = ""
    kinds: dict[str, str] = field(default_factory=dict)  # model -> "candidate" | baseline kind
    # What the candidates' binary scores are (`data.score_type`); baselines always predict
    # probabilities.
    score_type: str = "probability"
    # ev column -> a narrower SQL type that holds each of its values exactly: scores a
    # model wrote as FLOAT are fetched as FLOAT (half the bytes) and widened in NumPy.
    narrow: dict[str, str] = field(default_factory=dict)

    def score_type_of(self, m: int) -> str:
        """``"probability"``, ``"logit"`` or ``"score"``: the scale of model ``m``'s scores."""
        if self.task != "binary":
            return "probability"
        name = self.models[m] if m < len(self.models) else ""
        return self.score_type if self.kinds.get(name, "candidate") == "candidate" \
            else "probability"

    def has_errors(self, m: int) -> bool:
        """Whether model ``m`` has the charter's error columns: the charter's own models do;
        a baseline predicts the label and has none."""
        name = self.models[m] if m < len(self.models) else ""
        return self.kinds.get(name, "candidate") == "candidate"

    def score_col(self, m: int, k: int | None = None) -> str:
        return f"__s{m}" if k is None else f"__s{m}_{k}"

    def error_col(self, e: int, m: int) -> str:
        return f"__e{e}_{m}"

    def slice_col(self, i: int) -> str:
        return f"__c{i}"

    def where_col(self, i: int) -> str:
        return f"__p{i}"
