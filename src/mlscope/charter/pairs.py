"""The charter's ``compare:`` section checked against the models it can see.

``compare.pairs`` names models of the data and baselines; a name the charter does not
define is a problem with the pair's line and a "did you mean". When the models come from
the data themselves (a long table's model column), the names are checked at evaluation
time instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from mlscope.errors import did_you_mean

__all__ = ["check_compare"]

KeyPath = tuple[str | int, ...]


class _Reporter(Protocol):
    raw: dict[Any, Any]

    def add(self, path: KeyPath, message: str, fix: str | None = None, *,
            at: KeyPath | None = None) -> None: ...

    def warn(self, path: KeyPath, message: str, fix: str | None = None) -> None: ...


def check_compare(report: _Reporter, models: Iterable[str] | None) -> None:
    """Report pairs that name an unknown model, a model twice, or repeat another pair.

    Parameters
    ----------
    report
        Receives the problems (``add``) and warnings (``warn``); ``raw`` is the charter as
        read.
    models
        The models and baselines the charter defines, or None when the data name them
        (then only the shape of each pair is checked here).
    """
    section = report.raw.get("compare")
    if not isinstance(section, dict):
        return
    pairs = section.get("pairs")
    if not isinstance(pairs, list):
        return  # the schema has reported it
    known = list(models) if models is not None else None
    seen: dict[tuple[str, str], int] = {}
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, list) and len(pair) == 2):
            continue  # the schema has reported it
        a, b = (str(x) for x in pair)
        if a == b:
            report.add(("compare", "pairs", i), f"the pair compares `{a}` with itself",
                       fix="name two different models, e.g. `[candidate, production]`")
            continue
        if known is not None:
            for j, name in enumerate((a, b)):
                if name not in known:
                    report.add(("compare", "pairs", i, j),
                               f"`{name}` is not a model or baseline of the charter"
                               f"{did_you_mean(name, known)} (known: {', '.join(known)})",
                               fix="name a model under data.models or a baseline under "
                               "`baselines:`")
        if (a, b) in seen:
            report.warn(("compare", "pairs", i), f"the pair [{a}, {b}] repeats pair "
                        f"{seen[(a, b)]}", fix="remove one of them")
        else:
            seen[(a, b)] = i
