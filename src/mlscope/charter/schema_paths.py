"""Find the schema model at a location, and validate a section leniently.

Used to place and word schema problems and to check the sections that passed.
"""

from __future__ import annotations

from collections.abc import Callable
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from mlscope.charter.positions import ABSENT, KeyPath, project_loc
from mlscope.charter.schema import (
    Charter,
)

__all__ = [
    "is_metric_entry",
    "is_model",
    "is_rule",
    "lenient",
    "members",
    "model_at",
    "rule_name",
    "try_model",
]

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


def try_model(model: type[_M], value: Any) -> _M | None:
    """Validate ``value`` as ``model``, or ``None`` when it is absent or invalid.

    Parameters
    ----------
    model
        A schema model.
    value
        The raw value, or :data:`~mlscope.charter.positions.ABSENT`.

    Returns
    -------
    BaseModel or None
        The validated model, else ``None``.
    """
    if value is ABSENT:
        return None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def lenient(validate: Callable[[Any], _T], value: Any) -> tuple[_T | None, frozenset[str]]:
    """Validate ``value``; failing that, again without the keys that had errors.

    Returns the result (``None`` when even that fails) and the keys left out, so that
    checks of a section can still run on its valid keys.
    """
    if value is ABSENT:
        return None, frozenset()
    try:
        return validate(value), frozenset()
    except ValidationError as exc:
        if not isinstance(value, dict):
            return None, frozenset()
        bad = set()
        for err in exc.errors():
            path, _ = project_loc(tuple(err["loc"]), value)
            if path and err["type"] != "missing":
                bad.add(str(path[0]))
        if not bad:
            return None, frozenset()
        try:
            return validate({k: v for k, v in value.items() if str(k) not in bad}), frozenset(bad)
        except ValidationError:
            return None, frozenset(bad)


def members(tp: Any) -> list[Any]:
    """The members of a (possibly annotated, optional) union type, ``None`` left out.

    Parameters
    ----------
    tp
        A type annotation.

    Returns
    -------
    list
        The union's members, flattened; ``[tp]`` when it is not a union.
    """
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, UnionType):
        out: list[Any] = []
        for a in get_args(tp):
            out.extend(members(a))
        return [a for a in out if a is not NoneType]
    return [tp]


def is_model(tp: Any) -> bool:
    """Whether ``tp`` is a pydantic model class.

    Parameters
    ----------
    tp
        A type annotation.

    Returns
    -------
    bool
        True for a subclass of ``BaseModel``.
    """
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _tags(model: type[BaseModel]) -> tuple[str, ...]:
    """The values of a model's tag field (``rule`` or ``kind``, a ``Literal``)."""
    out: list[str] = []
    for name in ("rule", "kind"):
        field_ = model.model_fields.get(name)
        if field_ is not None and get_origin(field_.annotation) is Literal:
            out += [str(a) for a in get_args(field_.annotation)]
    return tuple(out)


def rule_name(model: Any) -> str:
    """The ``rule:`` tag of a rule model, e.g. ``"satisficing"``.

    Parameters
    ----------
    model
        A schema model.

    Returns
    -------
    str
        The tag, or ``""`` when the model has no ``rule`` field.
    """
    field_ = model.model_fields.get("rule")
    if field_ is None:
        return ""
    args = get_args(field_.annotation)
    return str(args[0]) if args else ""


def model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema model at a pydantic location (which names rule tags)."""
    tp: Any = Charter
    for el in loc:
        nxt: Any = None
        for m in members(tp):
            if is_model(m):
                if isinstance(el, str) and el in m.model_fields:
                    nxt = m.model_fields[el].annotation
                    break
            elif get_origin(m) is dict:
                nxt = get_args(m)[1]
                break
            elif get_origin(m) is list and isinstance(el, int):
                nxt = get_args(m)[0]
                break
        if nxt is None:
            # A tagged union's member, named by its tag (``rule:`` or a baseline's ``kind:``).
            tagged = [m for m in members(tp) if is_model(m) and el in _tags(m)]
            if not tagged:
                return None
            nxt = tagged[0]
        tp = nxt
    models = [m for m in members(tp) if is_model(m)]
    return models[0] if len(models) == 1 else None


def is_metric_entry(path: KeyPath) -> bool:
    """Whether ``path`` is an entry of ``metrics``, e.g. ``("metrics", 0)``.

    Parameters
    ----------
    path
        A key path.

    Returns
    -------
    bool
        True for ``metrics[i]``.
    """
    return len(path) == 2 and path[0] == "metrics" and isinstance(path[1], int)


def is_rule(path: KeyPath) -> bool:
    """Whether ``path`` is a rule: ``selection`` or an entry of ``alternatives``.

    Parameters
    ----------
    path
        A key path.

    Returns
    -------
    bool
        True for ``selection`` and ``alternatives[i]``.
    """
    return path == ("selection",) or (
        len(path) == 2 and path[0] == "alternatives" and isinstance(path[1], int)
    )


