"""Load a charter from YAML and check it, reporting every problem with file, line and fix.

Three layers of checks, all collected before anything is raised:

1. **YAML**: syntax errors (with line and column), an empty file, a top level that is not
   a mapping, a key written twice in the same mapping.
2. **Schema**: pydantic's errors, rewritten in plain language (unknown keys with "did you
   mean" and the keys allowed at that level, the allowed values of a choice, the expected
   form of a bound) and placed on the line where the key is written.
3. **Meaning**: one data source, models given one way and in the shape the task needs,
   metric names and parameters known to the registry, unique metric ids, every metric id
   that a rule, requirement or report names is computed, weights that can be averaged,
   well-formed slices. Selecting on the report split is a warning, not an error.

Sections that fail the schema are left out of the later checks; the other sections are
still checked, so one run shows every problem.

This module holds the public API and the run; the parts live beside it: reading YAML with
positions in :mod:`~mlscope.charter.positions`, the words of problems in
:mod:`~mlscope.charter.messages`, schema lookups in :mod:`~mlscope.charter.schema_paths`,
and the checker in :mod:`~mlscope.charter.check_base`, :mod:`~mlscope.charter.check_schema`,
:mod:`~mlscope.charter.check_data` and :mod:`~mlscope.charter.check_meaning`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlscope.charter.check_base import DOCS, Parts
from mlscope.charter.check_base import AnyRule as AnyRule
from mlscope.charter.check_meaning import MeaningChecks
from mlscope.charter.check_schema import SchemaChecks
from mlscope.charter.costs import CostsSpec
from mlscope.charter.messages import kind_suffix, show
from mlscope.charter.positions import Key as Key
from mlscope.charter.positions import KeyPath as KeyPath
from mlscope.charter.positions import YamlDoc, dotted, index_yaml, yaml_problem
from mlscope.charter.schema import Bound, Charter
from mlscope.charter.yaml_safe import CharterLoader, YamlLimitError, read_charter_text
from mlscope.errors import CharterError, InputError, Problem

__all__ = [
    "ValidationReport",
    "charter_to_dict",
    "key_problem",
    "load_charter",
    "resolve_path",
    "validate_charter",
]


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    """The outcome of checking a charter.

    Attributes
    ----------
    charter
        The typed charter when it has no problems, else ``None``.
    problems
        Every problem found, in file order; empty when the charter is valid.
    warnings
        Things that are allowed but probably unintended (e.g. selecting on the report
        split).
    """

    charter: Charter | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the charter is valid (warnings allowed)."""
        return self.charter is not None and not self.problems


def validate_charter(path: str | Path) -> ValidationReport:
    """Check a charter file and report every problem; never raises for charter problems.

    Parameters
    ----------
    path
        The charter's YAML file.

    Returns
    -------
    ValidationReport
        ``charter`` (``None`` unless valid), ``problems`` and ``warnings``, each a
        :class:`~mlscope.errors.Problem` naming the file, the line, the dotted path in the
        charter, what was received and the fix. A missing file is reported as a problem.
    """
    return _validate(path)[0]


def key_problem(path: str | Path, key: KeyPath | None, message: str,
                fix: str | None = None) -> Problem:
    """A problem found outside the charter (in its data, say) placed at the line of the
    charter key it concerns: ``key``'s own line, else its nearest written parent's."""
    file = str(path)
    line: int | None = None
    text, _, _ = read_charter_text(Path(path).expanduser(), file)
    if text is not None and key:
        loader = CharterLoader(text)
        try:
            root = loader.get_single_node()
            lines = index_yaml(root)[0] if root is not None else {}
        except (yaml.YAMLError, YamlLimitError):
            lines = {}
        finally:
            loader.dispose()
        for n in range(len(key), 0, -1):
            if key[:n] in lines:
                line = lines[key[:n]]
                break
    return Problem(message, file=file, line=line, fix=fix,
                   path=dotted(key) if key else None)


def load_charter(path: str | Path) -> Charter:
    """Read, validate and check a charter file.

    Parameters
    ----------
    path
        The charter's YAML file.

    Returns
    -------
    Charter
        The typed charter. Relative data paths in it are relative to the charter's folder:
        resolve them with :func:`resolve_path`.

    Raises
    ------
    InputError
        When the file does not exist or cannot be read.
    CharterError
        When the charter has problems; ``.problems`` lists every one of them.
    """
    report, unreadable = _validate(path)
    if unreadable is not None:
        raise InputError(str(unreadable))
    if report.problems or report.charter is None:
        raise CharterError(report.problems)
    return report.charter


def resolve_path(charter_path: str | Path, p: str | Path) -> Path:
    """Resolve a path written in a charter against the charter's folder.

    Parameters
    ----------
    charter_path
        The charter file (or the folder it is in).
    p
        A path from the charter, e.g. ``data.table``; ``~`` is expanded.

    Returns
    -------
    Path
        ``p`` itself when absolute, else ``p`` under the charter's folder.
    """
    q = Path(p).expanduser()
    if q.is_absolute():
        return q
    base = Path(charter_path).expanduser().resolve()
    if not base.is_dir():
        base = base.parent
    return base / q


def charter_to_dict(charter: Charter) -> dict[str, Any]:
    """The charter as plain JSON-safe data, for embedding into results.

    Parameters
    ----------
    charter
        A charter.

    Returns
    -------
    dict
        Every key with its value (defaults filled in); bounds written as in the charter
        (``">= 0.6"``); dates as ISO text; non-finite numbers as text.
    """
    out = _jsonable(charter)
    assert isinstance(out, dict)
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, Bound):
        return str(x) if x.decide_on is None else {"bound": str(x), "decide_on": x.decide_on}
    if isinstance(x, CostsSpec):
        # Only the keys of the form written (binary, multiclass or regression costs).
        return {k: _jsonable(v) for k, v in x.model_dump().items()}
    if isinstance(x, BaseModel):
        return {name: _jsonable(getattr(x, name)) for name in type(x).model_fields}
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | set | frozenset):
        return [_jsonable(v) for v in x]
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    if x is None or isinstance(x, str | int | bool):
        return x
    if isinstance(x, dt.date | dt.datetime | dt.time):
        return x.isoformat()
    return str(x)


# --------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------


def _validate(path: str | Path) -> tuple[ValidationReport, Problem | None]:
    """Check ``path``; the second value is set when the file itself cannot be read."""
    file = str(path)
    text, prob, unreadable = read_charter_text(Path(path).expanduser(), file)
    if text is None:
        assert prob is not None
        return ValidationReport(None, [prob]), prob if unreadable else None

    loader = CharterLoader(text)  # the limits of yaml_safe, enforced while composing
    try:
        root = loader.get_single_node()
        if root is None:
            return ValidationReport(None, [Problem(
                "the charter is empty", file=file,
                fix="write at least project, task, data, metrics and selection (see the "
                f"examples in {DOCS})",
            )]), None
        lines, texts, dups = index_yaml(root)
        data = loader.construct_document(root)
    except YamlLimitError as exc:
        return ValidationReport(None, [exc.problem(file)]), None
    except yaml.YAMLError as exc:
        return ValidationReport(None, [yaml_problem(exc, file)]), None
    finally:
        loader.dispose()

    if not isinstance(data, dict):
        return ValidationReport(None, [Problem(
            f"the top level of the charter must be a mapping of keys (project:, task:, "
            f"data:, ...), got {show(data)}{kind_suffix(data)}",
            file=file, line=root.start_mark.line + 1,
            fix="start each top-level key at the beginning of a line, e.g. `project: churn`",
        )]), None

    checker = _Checker(file, YamlDoc(data, lines, texts, dups))
    return checker.run(), None


class _Checker(SchemaChecks, MeaningChecks):
    """Collects the problems and warnings of one charter: the layers of checks, run in order."""

    # --- the run ---------------------------------------------------------------------

    def run(self) -> ValidationReport:
        for path, first, again in self.doc.duplicates:
            parent = dotted(path[:-1])
            self.add(
                path,
                f"key `{path[-1]}` is written twice "
                f"{'in `' + parent + '`' if parent else 'at the top level'} (lines {first} "
                f"and {again}); YAML keeps only the last one",
                fix="merge the two into one key, or remove one of them",
            )
        charter: Charter | None = None
        try:
            charter = Charter.model_validate(self.raw)
        except ValidationError as exc:
            self.schema_problems(exc.errors())
        parts = Parts.of(charter) if charter is not None else self.partial()
        self.semantic(parts)
        self.problems.sort(key=lambda p: (p.line or 0))
        self.warnings = list({str(w): w for w in self.warnings}.values())
        self.warnings.sort(key=lambda p: (p.line or 0))
        return ValidationReport(
            charter if not self.problems else None, self.problems, self.warnings
        )
