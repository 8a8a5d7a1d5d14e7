"""The metrics' compiled kernels, counting their calls (the ``counting`` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any


class CountingKernels:
    """The kernels of :mod:`mlscope.engine.kernels`, counting the calls of each by name
    (``calls``), for tests that check a compiled path ran or did not."""

    def __init__(self, kernels: ModuleType) -> None:
        self._kernels = kernels
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Callable[..., None]:
        fn = getattr(self._kernels, name)

        def call(*args: Any) -> None:
            self.calls[name] = self.calls.get(name, 0) + 1
            fn(*args)
        return call
