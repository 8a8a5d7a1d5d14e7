"""Load a user's ``module:function`` from the project directory."""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlscope.errors import InputError

__all__ = ["load_callable"]


def load_callable(ref: str, base_dir: Path, *, what: str) -> Callable[..., Any]:
    """Import ``module:function`` with ``base_dir`` first on the import path.

    Errors raised while importing the user's module are reported with their traceback,
    attributed to ``what`` (e.g. "custom metric `cost`").
    """
    module_name, _, func_name = ref.partition(":")
    if not module_name or not func_name:
        raise InputError(f"{what}: write the function as `module:function`, got {ref!r}")
    added = str(base_dir.resolve())
    sys.path.insert(0, added)
    try:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name.split(".")[0]:
                raise InputError(
                    f"{what}: module `{module_name}` not found next to the charter "
                    f"({added}); put `{module_name}.py` there"
                ) from None
            raise InputError(f"{what}: importing `{module_name}` failed:\n"
                             f"{traceback.format_exc()}") from None
        except Exception:
            raise InputError(
                f"{what}: importing `{module_name}` failed:\n{traceback.format_exc()}"
            ) from None
    finally:
        if added in sys.path:
            sys.path.remove(added)
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise InputError(f"{what}: `{module_name}` has no function `{func_name}`")
    return fn  # type: ignore[no-any-return]
