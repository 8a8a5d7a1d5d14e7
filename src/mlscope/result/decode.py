"""Rebuilding the result's dataclasses from plain data (a JSON round trip).

:func:`decode_dataclass` is what :meth:`EvaluationResult.from_dict
<mlscope.result.core.EvaluationResult.from_dict>` and :meth:`HumanLevel.from_dict
<mlscope.result.human.HumanLevel.from_dict>` use; nested dataclasses are found from the
annotations.
"""

from __future__ import annotations

import functools
from dataclasses import fields, is_dataclass
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

__all__ = ["decode_dataclass"]

T = TypeVar("T")


def _dataclass_in(tp: Any) -> tuple[type[Any] | None, bool]:
    """The dataclass a field annotation holds (directly, optionally, or as list items)."""
    origin = get_origin(tp)
    if origin in (list, tuple):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        inner, _ = _dataclass_in(args[0]) if args else (None, False)
        return inner, True
    if origin in (Union, UnionType):
        for a in get_args(tp):
            if a is not type(None):
                return _dataclass_in(a)
    if isinstance(tp, type) and is_dataclass(tp):
        return tp, False
    return None, False


@functools.cache
def _plan(cls: type[Any]) -> tuple[tuple[str, type[Any] | None, bool, bool], ...]:
    """Per field: (name, nested dataclass, is a list of it, is a tuple), once per class:
    resolving the annotations is what makes decoding a large result slow."""
    hints = get_type_hints(cls)
    out = []
    for f in fields(cls):
        sub, many = _dataclass_in(hints[f.name])
        out.append((f.name, sub, many, get_origin(hints[f.name]) is tuple))
    return tuple(out)


def decode_dataclass(cls: type[T], data: dict[str, Any]) -> T:
    """An instance of dataclass ``cls`` from ``data`` (as ``asdict`` and JSON left it);
    keys ``cls`` does not have are ignored, missing ones take the field defaults."""
    # Nested types come from the annotations, so a field name reused by two classes
    # (``values`` on a slice is a list of strings, on the result a list of MetricValue)
    # is decoded by its own class's annotation.
    kwargs: dict[str, Any] = {}
    for name, sub, many, is_tuple in _plan(cls):  # type: ignore[arg-type]
        if name not in data:
            continue
        raw = data[name]
        if sub is not None and raw is not None:
            raw = [decode_dataclass(sub, r) for r in raw] if many else decode_dataclass(sub, raw)
        if is_tuple and isinstance(raw, list):
            raw = tuple(raw)
        kwargs[name] = raw
    return cls(**kwargs)
