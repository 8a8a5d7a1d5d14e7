"""The user's own rule baseline: loading a function from the user's files, calling it on
the rows, and checking its output."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
import traceback
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from mlscope.baselines.predictor_checks import (
    FloatArray,
    check_task,
    missing_values,
    preview_names,
    where_prefix,
)
from mlscope.errors import InputError, did_you_mean
from mlscope.paths import project_file
from mlscope.plugins import UserCodeError, user_code

__all__ = ["RuleError", "run_rule"]

_RULE_IDS = itertools.count()


class RuleError(UserCodeError):
    """The user's rule raised (or exited); the message carries the rule's own traceback."""



@dataclass(frozen=True)
class _RuleTarget:
    path: Path
    function: str
    package: str | None  # the package the module sits in, for its relative imports
    is_package: bool
    search_dirs: tuple[Path, ...]


def _python_names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted({f.stem for f in folder.glob("*.py")}
                  | {d.name for d in folder.iterdir() if (d / "__init__.py").is_file()})


def _resolve_rule(ref: str, base_dir: Path, where: str) -> _RuleTarget:
    p = where_prefix(where)
    module, sep, function = ref.rpartition(":")
    if not sep or not module or not function:
        raise InputError(f"{p}write the rule as `module:function` (or "
                         f"`path/to/file.py:function`), got {ref!r}")
    base = base_dir.resolve()
    if module.endswith(".py") or "/" in module or "\\" in module:
        path = project_file(base, module, what=f"{p}the rule `{ref}`").resolve()
        if not path.is_file():
            files = [f.name for f in path.parent.glob("*.py")] if path.parent.is_dir() else []
            raise InputError(f"{p}the rule `{ref}`: file {path} not found (paths are "
                             f"relative to the charter's folder {base})"
                             f"{did_you_mean(path.name, files)}")
        dirs = tuple(dict.fromkeys([base, path.parent]))
        return _RuleTarget(path, function, None, False, dirs)
    parts = module.split(".")
    if not all(part.isidentifier() for part in parts):
        raise InputError(f"{p}the rule `{ref}`: `{module}` is not a module name; write "
                         "`module:function`, `package.module:function` or "
                         "`path/to/file.py:function`")
    as_file = base.joinpath(*parts[:-1], parts[-1] + ".py")
    as_package = base.joinpath(*parts, "__init__.py")
    package = ".".join(parts[:-1]) or None
    if as_file.is_file():
        return _RuleTarget(as_file, function, package, False, (base,))
    if as_package.is_file():
        return _RuleTarget(as_package, function, package, True, (base,))
    hint = did_you_mean(parts[-1], _python_names(as_file.parent))
    raise InputError(f"{p}the rule `{ref}`: module `{module}` not found (looked for {as_file} "
                     f"and {as_package}); put `{parts[-1]}.py` in the charter's folder{hint}")


def _from_user_dirs(name: str, module: types.ModuleType | None, dirs: Sequence[Path]) -> bool:
    """Whether ``module`` was imported from the project folder under its own name."""
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = Path(file).resolve()
    want = tuple(name.split("."))
    for d in dirs:
        if not path.is_relative_to(d):
            continue
        rel = path.relative_to(d)
        if rel.with_suffix("").parts == want or (rel.name == "__init__.py"
                                                 and rel.parent.parts == want):
            return True
    return False


@contextmanager
def _user_import_scope(target: _RuleTarget, unique: str) -> Iterator[None]:
    """Let the user's module import its neighbours, then forget every module of theirs.

    Forgetting them means the next call re-reads the files, so an edited rule is picked up;
    modules from elsewhere imported on the way (pandas, ...) stay loaded as usual.
    """
    added = [str(d) for d in target.search_dirs if str(d) not in sys.path]
    sys.path[:0] = added
    before = set(sys.modules)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)
        for name in set(sys.modules) - before:
            if (name == unique or name.startswith(unique + ".")
                    or _from_user_dirs(name, sys.modules.get(name), target.search_dirs)):
                sys.modules.pop(name, None)


def _load_and_call(target: _RuleTarget, ref: str, frame: pd.DataFrame, where: str) -> Any:
    p = where_prefix(where)
    unique = f"_mlscope_rule_{next(_RULE_IDS)}"
    name = f"{target.package}.{unique}" if target.package else unique
    spec = importlib.util.spec_from_file_location(
        name, target.path,
        submodule_search_locations=[str(target.path.parent)] if target.is_package else None)
    if spec is None:  # pragma: no cover - only for files Python cannot load at all
        raise InputError(f"{p}the rule `{ref}`: cannot load {target.path} as Python")
    module = importlib.util.module_from_spec(spec)
    try:
        source = target.path.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}the rule `{ref}`: cannot read {target.path}: "
                         f"{exc.strerror}") from None
    with _user_import_scope(target, name):
        # Some code (dataclasses, pickle) looks its module up while it runs.
        sys.modules[name] = module
        try:
            # Compiled from the source each time rather than through the bytecode cache,
            # whose timestamps cannot tell two edits within a second apart.
            code = compile(source, str(target.path), "exec")
        except SyntaxError as exc:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
            raise RuleError(f"{p}the rule `{ref}` cannot be imported: {target.path} has a "
                            f"syntax error\n{detail}") from None
        with user_code(f"{p}importing the rule `{ref}` ({target.path})", target.search_dirs,
                       RuleError):
            exec(code, module.__dict__)
        with user_code(f"{p}the rule `{ref}`", target.search_dirs, RuleError):
            # A module-level __getattr__ is the user's code too.
            fn = getattr(module, target.function, None)
        if fn is None:
            names = [k for k, v in vars(module).items()
                     if callable(v) and not k.startswith("_")
                     and getattr(v, "__module__", None) == name]
            raise InputError(
                f"{p}the rule `{ref}`: {target.path} has no function `{target.function}`"
                f"{did_you_mean(target.function, names)}"
                + (f" (functions: {preview_names(sorted(names))})" if names else ""))
        if not callable(fn):
            raise InputError(f"{p}the rule `{ref}`: `{target.function}` in {target.path} is "
                             f"a {type(fn).__name__}, not a function")
        with user_code(f"{p}the rule `{ref}`", target.search_dirs, RuleError):
            # A shallow copy: the rule may add or drop columns without touching ours.
            return fn(frame.copy(deep=False))


def _row(frame: pd.DataFrame, i: int) -> str:
    return f"row {frame.index[i]!r} (position {i})"


def _as_float(values: Any) -> FloatArray | None:
    """The values as float64 (bools as 0/1), or None when some are not numbers."""
    if isinstance(values, pd.Series):
        if pdt.is_bool_dtype(values.dtype) or pdt.is_numeric_dtype(values.dtype):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        values = values.to_numpy(dtype=object)
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64)
    if arr.dtype.kind != "O":
        return None
    conv = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce")
    if (conv.isna().to_numpy() & ~missing_values(arr)).any():
        return None
    return conv.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_finite(values: FloatArray, frame: pd.DataFrame, ref: str, p: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1))
    if bad.size:
        shown = values[bad[0]]
        raise InputError(f"{p}the rule `{ref}` returned {shown} for {_row(frame, bad[0])}; "
                         "return a finite number for every row")


def _rule_probabilities(
    out: Any, frame: pd.DataFrame, classes: list[str], ref: str, p: str,
) -> FloatArray:
    """A multiclass rule's (n, K) output: a DataFrame with class columns or an array."""
    if isinstance(out, pd.DataFrame):
        cols = [str(c) for c in out.columns]
        missing = [c for c in classes if c not in cols]
        extra = [c for c in cols if c not in classes]
        if missing or extra:
            odd = extra[0] if extra else ""
            raise InputError(
                f"{p}the rule `{ref}` returned columns {preview_names(cols)}; a table of "
                f"probabilities needs one column per class ({preview_names(classes)})"
                + (f": `{odd}` is not a class{did_you_mean(odd, classes)}" if extra else
                   f": `{missing[0]}` is missing"))
        out = out.set_axis(cols, axis=1)[classes]
    values = _as_float(np.asarray(out))
    if values is None or values.ndim != 2 or values.shape[1] != len(classes):
        raise InputError(
            f"{p}the rule `{ref}` returned a table of shape {np.shape(out)}; for a multiclass "
            f"task return class labels (one of: {preview_names(classes)}) or probabilities with "
            f"one column per class, in that order")
    _check_finite(values, frame, ref, p)
    bad = np.flatnonzero(((values < 0) | (values > 1)).any(axis=1)
                         | (np.abs(values.sum(axis=1) - 1.0) > 1e-6))
    if bad.size:
        raise InputError(f"{p}the rule `{ref}` returned {values[bad[0]].tolist()} for "
                         f"{_row(frame, bad[0])}; probabilities must lie in [0, 1] and sum "
                         "to 1 on every row (or return class labels)")
    return np.asarray(values / values.sum(axis=1, keepdims=True), dtype=np.float64)


def _normalise_rule_output(
    out: Any, frame: pd.DataFrame, *, task: str, classes: list[str], ref: str, where: str,
) -> FloatArray:
    p = where_prefix(where)
    n = len(frame)
    if out is None or np.ndim(out) == 0:
        raise InputError(f"{p}the rule `{ref}` returned {out!r}; return one value per row "
                         f"(a Series, array or list of length {n})")
    if isinstance(out, pd.Series | pd.DataFrame) and not out.index.equals(frame.index) and (
            out.index.is_unique and frame.index.is_unique and len(out) == n
            and out.index.sort_values().equals(frame.index.sort_values())):
        out = out.reindex(frame.index)  # the rule reordered the rows: put them back
    if len(out) != n:
        raise InputError(f"{p}the rule `{ref}` returned {len(out)} values for {n} rows; "
                         "return one value per row, in the order of the rows it is given")
    if task == "multiclass" and (isinstance(out, pd.DataFrame) or np.ndim(out) == 2):
        return _rule_probabilities(out, frame, classes, ref, p)
    if isinstance(out, pd.DataFrame) or np.ndim(out) == 2:
        if np.shape(out)[1] != 1:
            raise InputError(f"{p}the rule `{ref}` returned a table of shape {np.shape(out)}; "
                             f"for a {task} task return one value per row")
        out = out.iloc[:, 0] if isinstance(out, pd.DataFrame) else np.asarray(out)[:, 0]
    if task == "multiclass":
        labels = pd.Series(np.asarray(out, dtype=object), dtype=object).astype("string")
        codes = pd.Index(classes).get_indexer(pd.Index(labels))
        bad = np.flatnonzero(codes < 0)
        if bad.size:
            v = labels.iloc[bad[0]]
            shown = "a missing value" if pd.isna(v) else f"`{v}`"
            raise InputError(
                f"{p}the rule `{ref}` returned {shown} for {_row(frame, bad[0])}, which is "
                f"not a class; return class labels (one of: {preview_names(classes)}) or "
                "probabilities with one column per class"
                f"{'' if pd.isna(v) else did_you_mean(str(v), classes)}")
        return np.asarray(np.eye(len(classes))[codes], dtype=np.float64)
    values = _as_float(out)
    if values is None:
        sample = next(v for v in np.asarray(out, dtype=object) if _as_float([v]) is None)
        what = ("probabilities in [0, 1] or 0/1 labels (True/False works too)"
                if task == "binary" else "numbers")
        raise InputError(f"{p}the rule `{ref}` returned {sample!r}, which is not a number; "
                         f"for a {task} task return {what}")
    _check_finite(values, frame, ref, p)
    if task == "binary":
        bad = np.flatnonzero((values < 0) | (values > 1))
        if bad.size:
            raise InputError(f"{p}the rule `{ref}` returned {values[bad[0]]} for "
                             f"{_row(frame, bad[0])}; for a binary task return probabilities "
                             "in [0, 1] or 0/1 labels (True/False works too)")
    return values


def run_rule(
    ref: str,
    frame: pd.DataFrame,
    *,
    base_dir: Path,
    task: str,
    classes: Sequence[str] | None = None,
    where: str = "",
) -> FloatArray:
    """Run the user's heuristic once on every evaluation row and normalise its output.

    ``ref`` is ``module:function`` (``module.py`` in ``base_dir``), ``package.module:function``
    (a package in ``base_dir``) or ``path/to/file.py:function`` (relative to ``base_dir``).
    The file is read and run afresh on each call under a private module name, so an edited
    file is picked up and nothing of the user's stays in ``sys.modules`` (the modules it
    imports from ``base_dir`` are forgotten too). The function is called once as
    ``fn(frame)`` and returns one value per row: a Series (re-aligned to ``frame``'s index
    when it holds the same labels in another order), an array or a list.

    - binary: probabilities in [0, 1], or 0/1 or True/False labels (as 0.0/1.0);
    - multiclass: class labels (as one-hot rows), or an (n, K) array with columns in the
      order of ``classes``, or a DataFrame with one column per class; probability rows must
      sum to 1;
    - regression: numbers.

    Parameters
    ----------
    ref
        The function, e.g. ``"rules:predict"``.
    frame
        Every evaluation row, with the user's columns.
    base_dir
        The project folder (the charter's folder).
    task
        ``binary``, ``multiclass`` or ``regression``.
    classes
        Multiclass: the classes, in output column order (required there).
    where
        Where the baseline is in the charter, for messages.

    Returns
    -------
    np.ndarray
        float64, shape ``(n,)``, or ``(n, K)`` for multiclass.

    Raises
    ------
    RuleError
        The rule's module or function raised; the message names the exception and shows
        the traceback lines from the user's files only.
    InputError
        A module, file or function not found, not callable, the wrong number of values,
        NaN or infinite values (naming the first such row), values outside [0, 1] for a
        binary task, labels that are not classes.
    """
    check_task(task, where)
    if task == "multiclass" and classes is None:
        raise ValueError("run_rule needs `classes` for a multiclass task")
    target = _resolve_rule(ref, base_dir, where)
    out = _load_and_call(target, ref, frame, where)
    return _normalise_rule_output(out, frame, task=task, classes=[str(c) for c in classes or []],
                                  ref=ref, where=where)
