"""The shared state of the charter checker.

Recording problems and warnings at the line of a key, the sections that passed the
schema, and the constants the checks share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter

from mlscope.charter.positions import ABSENT, KeyPath, YamlDoc, dotted, find_key, norm_key
from mlscope.charter.schema import (
    Baseline,
    Bound,
    Charter,
    DataSpec,
    FormulaRule,
    MetricEntry,
    ParetoRule,
    ReportSpec,
    Rule,
    SatisficingRule,
    SliceSpec,
    SplitSpec,
    WeightedRule,
)
from mlscope.errors import Problem

__all__ = [
    "BASELINE_ADAPTER",
    "BOUNDS_ADAPTER",
    "DOCS",
    "IDENT",
    "RULE_ADAPTER",
    "RULE_CLASSES",
    "RULE_NAMES",
    "TASKS",
    "AnyRule",
    "CheckerBase",
    "Parts",
]

AnyRule = SatisficingRule | WeightedRule | FormulaRule | ParetoRule  # any selection rule

# Shared by the checks: validators for one rule and one baseline, the rule tags and their
# models, the tasks, what an identifier is, and where the charter is documented.
RULE_ADAPTER: TypeAdapter[AnyRule] = TypeAdapter(Rule)
BASELINE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Baseline)
BOUNDS_ADAPTER: TypeAdapter[dict[str, Bound]] = TypeAdapter(dict[str, Bound])
RULE_NAMES = ("satisficing", "weighted", "formula", "pareto")
RULE_CLASSES: tuple[type[BaseModel], ...] = (
    SatisficingRule, WeightedRule, FormulaRule, ParetoRule,
)
TASKS = ("binary", "multiclass", "regression", "errors")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DOCS = "docs/charter.md"


class CheckerBase:
    """Collects the problems and warnings of one charter."""

    def __init__(self, file: str, doc: YamlDoc) -> None:
        self.file = file
        self.doc = doc
        self.raw: dict[Any, Any] = doc.data
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._registry_note = False
        # Keys that an "unknown key, did you mean" problem already tells the user to add.
        self.renamed: set[KeyPath] = set()
        # Metric ids that will exist once a misspelled metric name is corrected as suggested.
        self.corrected_ids: set[str] = set()

    # --- recording -------------------------------------------------------------------

    def line(self, path: KeyPath) -> int | None:
        """The line where ``path`` (or the nearest key above it) is written."""
        p = tuple(norm_key(k) for k in path)
        while p:
            if p in self.doc.lines:
                return self.doc.lines[p]
            p = p[:-1]
        return None

    def add(self, path: KeyPath, message: str, fix: str | None = None, *,
            at: KeyPath | None = None) -> None:
        """Record a problem at ``path``; its line is that of ``at`` when given."""
        line = self.line(path if at is None else at)
        self.problems.append(Problem(message, file=self.file, line=line,
                                     fix=fix, path=dotted(path) or None))

    def warn(self, path: KeyPath, message: str, fix: str | None = None) -> None:
        self.warnings.append(Problem(message, file=self.file, line=self.line(path),
                                     fix=fix, path=dotted(path) or None))

    def raw_at(self, path: KeyPath) -> Any:
        """The value written at ``path``, or ``ABSENT``."""
        cur: Any = self.raw
        for el in path:
            if isinstance(cur, dict):
                k = find_key(cur, el)
                if k is ABSENT:
                    return ABSENT
                cur = cur[k]
            elif isinstance(cur, list) and isinstance(el, int) and 0 <= el < len(cur):
                cur = cur[el]
            else:
                return ABSENT
        return cur


@dataclass
class Parts:
    """The sections that passed the schema (all of them when the charter is valid)."""

    task: str | None = None
    data: DataSpec | None = None
    data_broken: frozenset[str] = frozenset()
    splits: SplitSpec | None = None
    slices: SliceSpec | None = None
    report: ReportSpec | None = None
    metrics: list[tuple[int, MetricEntry]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    complete_ids: bool = True
    selection: AnyRule | None = None
    alternatives: list[tuple[int, AnyRule]] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    baselines: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, c: Charter) -> Parts:
        return cls(
            task=c.task, data=c.data, splits=c.splits, slices=c.slices, report=c.report,
            metrics=list(enumerate(c.metrics)), ids=c.metric_ids(), selection=c.selection,
            alternatives=list(enumerate(c.alternatives)), requirements=list(c.requirements),
            baselines=dict(c.baselines),
        )

    def rules(self) -> list[tuple[KeyPath, AnyRule]]:
        out: list[tuple[KeyPath, AnyRule]] = []
        if self.selection is not None:
            out.append((("selection",), self.selection))
        out.extend((("alternatives", i), r) for i, r in self.alternatives)
        return out

