"""The user's own code: load a ``module:function`` from the project, and run it guarded.

A charter may name Python code of the user's (custom metrics, rule baselines). That code
runs in mlscope's process, so whatever it raises reaches mlscope: an exception, but also
``SystemExit`` from ``sys.exit(0)``, which would otherwise end ``mlscope check`` with
success in CI without any check made. :func:`user_code` is the one place that turns
anything the user's code raises (``KeyboardInterrupt`` aside) into a
:class:`UserCodeError`, a bad-input error that names the charter entry and carries the
user's traceback; every call into the user's code goes through it.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from mlscope.errors import InputError

__all__ = ["UserCodeError", "UserFunction", "describe", "load_callable", "user_code"]

_MLSCOPE_DIR = Path(__file__).resolve().parent
# Top-level modules imported from a charter's folder in this process -> that folder.
_USER_MODULES: dict[str, Path] = {}


class UserCodeError(InputError):
    """The user's code raised, or tried to end the process; a bad-input error (exit 2).

    Attributes
    ----------
    what
        The charter entry whose code it was, e.g. "custom metric `lift` (m:lift)".
    summary
        The exception's type and message, e.g. "SystemExit: 0".
    trace
        The traceback lines from the user's files.
    """

    def __init__(self, message: str, *, what: str = "", summary: str = "",
                 trace: str = "") -> None:
        super().__init__(message)
        self.what, self.summary, self.trace = what, summary, trace

    @classmethod
    def caught(cls, what: str, summary: str, trace: str, where: str = "") -> Self:
        """The error for an exception caught out of ``what``'s code."""
        return cls(f"{what} raised {summary}{where}" + (f"\n{trace}" if trace else ""),
                   what=what, summary=summary, trace=trace)

    def at(self, where: str) -> Self:
        """The same error, saying where it happened (e.g. " (slice overall)")."""
        return self.caught(self.what, self.summary, self.trace, where)


def describe(exc: BaseException) -> str:
    """``Type: message``; for an exit, what it means for the run."""
    text = str(exc)
    head = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, SystemExit):
        # Whatever the code, the user's code does not decide how mlscope exits.
        head += (" (it tried to end the process; a metric or rule must return a value, "
                 "so the run stops here as bad input)")
    return head


def _is_user_file(filename: str, dirs: Sequence[Path]) -> bool:
    if not filename or filename.startswith("<"):
        return False
    path = Path(filename).resolve()
    if path.is_relative_to(_MLSCOPE_DIR) or {"site-packages", "dist-packages"} & set(path.parts):
        return False
    return any(path.is_relative_to(d) for d in dirs)


def user_traceback(exc: BaseException, dirs: Sequence[Path]) -> str:
    """The traceback lines of ``exc`` that lie in the user's files (under ``dirs``).

    mlscope's and libraries' frames are left out: the user needs their own lines. When
    none of the frames is theirs (the code came from elsewhere), every frame outside
    mlscope is shown instead.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if _is_user_file(f.filename, dirs)]
    if not mine:
        mine = [f for f in frames
                if not (f.filename and Path(f.filename).resolve().is_relative_to(_MLSCOPE_DIR))
                and not f.filename.startswith("<frozen importlib")]
    return "".join(traceback.format_list(mine)).rstrip()


def _is_interrupt(exc: BaseException) -> bool:
    if isinstance(exc, KeyboardInterrupt):
        return True
    return isinstance(exc, BaseExceptionGroup) and exc.subgroup(KeyboardInterrupt) is not None


@contextmanager
def user_code(what: str, dirs: Sequence[Path] = (),
              error: type[UserCodeError] = UserCodeError) -> Iterator[None]:
    """Run the block as the user's code: anything it raises becomes ``error``.

    ``SystemExit`` (any code, 0 and None included), ``GeneratorExit`` and every other
    ``BaseException`` are caught as well as ``Exception``: in-process, the user's code
    must not be able to choose mlscope's exit code. ``KeyboardInterrupt`` passes (the user
    pressed Ctrl-C), and so does a :class:`UserCodeError` already attributed.

    Parameters
    ----------
    what
        The charter entry, for the message: "custom metric `lift` (m:lift)".
    dirs
        The user's folders, whose frames the message shows.
    error
        The error class raised (a subclass of :class:`UserCodeError`).
    """
    try:
        yield
    except UserCodeError:
        raise
    except BaseException as exc:
        if _is_interrupt(exc):
            raise
        raise error.caught(what, describe(exc), user_traceback(exc, dirs)) from exc


class UserFunction:
    """A loaded user function that can only be called guarded (see :func:`user_code`).

    Handing the evaluation this wrapper rather than the function itself means a new call
    site cannot forget the guard.
    """

    __slots__ = ("dirs", "fn", "what")

    def __init__(self, fn: Callable[..., Any], what: str, dirs: Sequence[Path]) -> None:
        self.fn, self.what, self.dirs = fn, what, tuple(dirs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with user_code(self.what, self.dirs):
            return self.fn(*args, **kwargs)


def _beside_charter(module_name: str, base: Path, what: str) -> None:
    """Refuse a module that is not a file in the charter's folder, before importing it.

    A charter runs only its project's code: ``os:system`` or any installed package's
    function is not a metric, and importing it would already run code the charter did not
    bring. A top-level name already imported from elsewhere is refused for the same
    reason (``import_module`` would hand back that module).
    """
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    if loaded is not None and _USER_MODULES.get(top) not in (None, base):
        # Loaded earlier in this process from another project's folder (two charters
        # evaluated from Python): forget it, so this charter gets its own file.
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]
        loaded = None
    if loaded is not None:
        file = getattr(loaded, "__file__", None)
        if not file or not Path(file).resolve().is_relative_to(base):
            raise InputError(
                f"{what}: `{top}` is not a module of the charter's folder ({base}) but an "
                f"installed or built-in one; mlscope runs only code beside the charter. "
                f"Rename your file (e.g. `my_{top}.py`)"
            )
        return
    if importlib.machinery.PathFinder.find_spec(top, [str(base)]) is None:
        raise InputError(
            f"{what}: module `{module_name}` not found next to the charter ({base}); put "
            f"`{top}.py` there (mlscope runs only code beside the charter)"
        )
    _USER_MODULES[top] = base


def load_callable(ref: str, base_dir: Path, *, what: str) -> UserFunction:
    """Import ``module:function`` with ``base_dir`` first on the import path.

    Parameters
    ----------
    ref
        ``module:function``; the module is looked for in ``base_dir`` first.
    base_dir
        The charter's folder.
    what
        The charter entry, for messages, e.g. "custom metric `cost` (costs:cost)".

    Returns
    -------
    UserFunction
        The function, guarded: calling it raises :class:`UserCodeError` for anything the
        user's code raises.

    Raises
    ------
    InputError
        ``ref`` malformed, the module not found, no such function.
    UserCodeError
        Importing the module raised (or exited); with the user's traceback.
    """
    module_name, _, func_name = ref.partition(":")
    if not module_name or not func_name:
        raise InputError(f"{what}: write the function as `module:function`, got {ref!r}")
    base = base_dir.resolve()
    added = str(base)
    _beside_charter(module_name, base, what)
    sys.path.insert(0, added)
    try:
        try:
            with user_code(f"{what}: importing `{module_name}`", (base,)):
                module = importlib.import_module(module_name)
        except UserCodeError as exc:
            cause = exc.__cause__
            if (isinstance(cause, ModuleNotFoundError)
                    and cause.name == module_name.split(".")[0]):
                raise InputError(
                    f"{what}: module `{module_name}` not found next to the charter "
                    f"({added}); put `{module_name}.py` there"
                ) from None
            raise
    finally:
        if added in sys.path:
            sys.path.remove(added)
    with user_code(f"{what}: reading `{ref}`", (base,)):
        # A module-level __getattr__ is the user's code too.
        fn = getattr(module, func_name, None)
    if not callable(fn):
        raise InputError(f"{what}: `{module_name}` has no function `{func_name}`")
    return UserFunction(fn, what, (base,))
