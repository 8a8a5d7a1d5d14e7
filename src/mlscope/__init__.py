"""mlscope: charter, evaluate, select and diagnose machine-learning models.

The public API mirrors the command line::

    import mlscope
    result = mlscope.evaluate("mlscope.yaml")      # mlscope evaluate / run
    print(result.winner, result.status)
    mlscope.write_report(result, "out/report.html")

Heavy or optional parts are imported lazily, so ``import mlscope`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlscope._version import __version__
from mlscope.errors import CharterError, InputError, MlscopeError, UndefinedMetricWarning

if TYPE_CHECKING:
    from mlscope.charter import load_charter, validate_charter
    from mlscope.evaluation import evaluate
    from mlscope.report import render_html, write_html
    from mlscope.result import EvaluationResult

__all__ = [
    "CharterError",
    "EvaluationResult",
    "InputError",
    "MlscopeError",
    "UndefinedMetricWarning",
    "__version__",
    "evaluate",
    "load_charter",
    "render_html",
    "validate_charter",
    "write_html",
    "write_report",
]

_LAZY = {
    "evaluate": ("mlscope.evaluation", "evaluate"),
    "load_charter": ("mlscope.charter", "load_charter"),
    "validate_charter": ("mlscope.charter", "validate_charter"),
    "render_html": ("mlscope.report", "render_html"),
    "write_html": ("mlscope.report", "write_html"),
    "write_report": ("mlscope.report", "write_html"),
    "EvaluationResult": ("mlscope.result", "EvaluationResult"),
}


def __dir__() -> list[str]:
    # The lazily imported names are part of the API: show them to dir() and completion.
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'mlscope' has no attribute {name!r}")
