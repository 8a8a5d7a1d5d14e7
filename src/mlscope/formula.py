"""A small, safe arithmetic language over metric ids, for ``rule: formula``.

A formula is an arithmetic expression whose names are metric ids, e.g. a mean average
precision ``(ap_a + ap_b + ap_c) / 3`` or an expected cost ``5 * fn_rate + fp_rate``.
It is parsed with :mod:`ast` and checked against a whitelist; nothing is ever passed to
``eval`` or ``exec``. Allowed are:

* numbers (``3``, ``0.5``, ``1e-3``) and names (metric ids);
* the operators ``+ - * / **``, unary ``-`` (and ``+``), parentheses;
* calls to ``min``, ``max``, ``mean`` (one or more arguments, taken elementwise) and
  ``sqrt``, ``log``, ``exp``, ``abs`` (exactly one argument).

Evaluation is vectorised: every value may be a float or a NumPy array (for example the
bootstrap replicates of a metric), and arrays broadcast as in NumPy. Arithmetic never
raises: division by zero (and ``0 ** -1``) gives NaN, as do ``log`` or ``sqrt`` of a
negative number.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlscope.errors import InputError, did_you_mean

__all__ = ["FUNCTIONS", "Formula", "parse_formula"]

_Array = npt.NDArray[np.float64]
Value = float | npt.NDArray[Any]

# name -> (min args, max args or None for any number)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "min": (1, None),
    "max": (1, None),
    "mean": (1, None),
    "sqrt": (1, 1),
    "log": (1, 1),
    "exp": (1, 1),
    "abs": (1, 1),
}

_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}

_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "`and` / `or` are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.Starred: "starred arguments are not allowed",
    ast.NamedExpr: "assignment expressions are not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Await: "`await` is not allowed",
    ast.Yield: "`yield` is not allowed",
    ast.YieldFrom: "`yield` is not allowed",
}


# -- the compiled tree ----------------------------------------------------------------


@dataclass(frozen=True)
class _Num:
    value: float


@dataclass(frozen=True)
class _Name:
    id: str


@dataclass(frozen=True)
class _Neg:
    operand: _Node


@dataclass(frozen=True)
class _Bin:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Call:
    func: str
    args: tuple[_Node, ...]


_Node = _Num | _Name | _Neg | _Bin | _Call


def _divide(a: _Array, b: _Array) -> _Array:
    out: _Array = np.where(b == 0, np.nan, a / np.where(b == 0, 1.0, b))
    return out


def _power(a: _Array, b: _Array) -> _Array:
    out: _Array = np.where((a == 0) & (b < 0), np.nan, np.power(np.where(a == 0, 1.0, a), b))
    return np.where((a == 0) & (b >= 0), np.power(0.0, b), out)


_BINARY_FN: dict[str, Callable[[_Array, _Array], _Array]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": _divide,
    "**": _power,
}

_UNARY_FN: dict[str, Callable[[_Array], _Array]] = {
    "sqrt": np.sqrt,
    "log": np.log,
    "exp": np.exp,
    "abs": np.abs,
}


def _reduce(func: str, args: list[_Array]) -> _Array:
    if func == "min":
        out = args[0]
        for a in args[1:]:
            out = np.minimum(out, a)
        return out
    if func == "max":
        out = args[0]
        for a in args[1:]:
            out = np.maximum(out, a)
        return out
    total = args[0]
    for a in args[1:]:
        total = np.add(total, a)
    result: _Array = total / len(args)
    return result


def _eval(node: _Node, env: Mapping[str, _Array]) -> _Array:
    if isinstance(node, _Num):
        return np.asarray(node.value, dtype=np.float64)
    if isinstance(node, _Name):
        return env[node.id]
    if isinstance(node, _Neg):
        return np.negative(_eval(node.operand, env))
    if isinstance(node, _Bin):
        return _BINARY_FN[node.op](_eval(node.left, env), _eval(node.right, env))
    args = [_eval(a, env) for a in node.args]
    if node.func in _UNARY_FN:
        return _UNARY_FN[node.func](args[0])
    return _reduce(node.func, args)


# -- the public object ----------------------------------------------------------------


class Formula:
    """A parsed, checked formula; build one with :func:`parse_formula`.

    Attributes
    ----------
    expression
        The text it was parsed from.
    names_in_order
        The metric ids it uses, each once, in order of first appearance.
    """

    __slots__ = ("_root", "expression", "names_in_order")

    def __init__(self, expression: str, root: _Node, names_in_order: tuple[str, ...]) -> None:
        self.expression = expression
        self._root = root
        self.names_in_order = names_in_order

    @property
    def names(self) -> frozenset[str]:
        """The metric ids the formula uses."""
        return frozenset(self.names_in_order)

    def evaluate(self, values: Mapping[str, Value]) -> Value:
        """Evaluate the formula.

        Parameters
        ----------
        values
            A value for every name in :attr:`names`: a float, or an array (for example
            bootstrap replicates); arrays broadcast against each other as in NumPy.

        Returns
        -------
        float or numpy.ndarray
            A float when every value used is a scalar, else an array of the broadcast
            shape. Division by zero gives NaN rather than raising.

        Raises
        ------
        InputError
            When a name has no value, a value is not numeric, or array shapes do not
            broadcast.
        """
        env: dict[str, _Array] = {}
        for name in self.names_in_order:
            if name not in values:
                raise InputError(
                    f"formula `{self.expression}` uses `{name}`, which has no value"
                    f"{did_you_mean(name, values)} (values given for: "
                    f"{', '.join(sorted(values)) or 'nothing'})"
                )
            raw = values[name]
            try:
                env[name] = np.asarray(raw, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise InputError(
                    f"formula `{self.expression}`: the value of `{name}` is not numeric "
                    f"({raw!r})"
                ) from exc
        with np.errstate(all="ignore"):
            try:
                out = _eval(self._root, env)
            except ValueError as exc:  # shapes that do not broadcast
                shapes = ", ".join(f"{k}: {v.shape}" for k, v in env.items())
                raise InputError(
                    f"formula `{self.expression}`: the values cannot be combined ({exc}); "
                    f"shapes {shapes}"
                ) from exc
        if out.ndim == 0:
            return float(out)
        return out

    def __str__(self) -> str:
        return self.expression

    def __repr__(self) -> str:
        return f"Formula({self.expression!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Formula) and self._root == other._root

    def __hash__(self) -> int:
        return hash(self._root)


def parse_formula(expr: str) -> Formula:
    """Parse and check a formula over metric ids.

    Parameters
    ----------
    expr
        An arithmetic expression such as ``"(ap_a + ap_b + ap_c) / 3"`` or
        ``"5 * fn_rate + fp_rate"``.

    Returns
    -------
    Formula
        The checked formula; :attr:`Formula.names` lists the metric ids it uses.

    Raises
    ------
    InputError
        When the text is not an expression, or uses anything outside the whitelist
        (attributes, subscripts, lambdas, comparisons, strings, unknown functions, ...);
        the message names the offending part and the expression.
    """
    if not isinstance(expr, str):
        raise InputError(f"a formula must be text, got {expr!r}")
    text = expr.strip()
    if not text:
        raise InputError("the formula is empty; write an expression over metric ids, "
                         "e.g. `(ap_a + ap_b) / 2`")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise InputError(f"formula `{text}` is not a valid expression{where}: "
                         f"{exc.msg}") from exc
    except (RecursionError, MemoryError) as exc:
        raise InputError(f"formula `{text[:80]}...` is too deeply nested") from exc
    names: list[str] = []
    try:
        root = _Compiler(text, names).visit(tree.body)
    except RecursionError as exc:
        raise InputError(f"formula `{text[:80]}...` is too deeply nested") from exc
    return Formula(text, root, tuple(names))


class _Compiler:
    def __init__(self, text: str, names: list[str]) -> None:
        self.text = text
        self.names = names

    def part(self, node: ast.AST) -> str:
        seg = ast.get_source_segment(self.text, node)
        return seg if seg is not None else ast.unparse(node)

    def fail(self, node: ast.AST, what: str) -> InputError:
        return InputError(
            f"formula `{self.text}`: {what} (in `{self.part(node)}`); only numbers, metric "
            f"ids, + - * / **, parentheses and the functions "
            f"{', '.join(FUNCTIONS)} are allowed"
        )

    def visit(self, node: ast.AST) -> _Node:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, str | bytes):
                raise self.fail(node, "strings are not allowed")
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise self.fail(node, f"the constant {v!r} is not allowed")
            try:
                return _Num(float(v))
            except OverflowError:
                raise self.fail(node, "the number is too large for a float") from None
        if isinstance(node, ast.Name):
            if node.id.startswith("__"):
                raise self.fail(node, f"the name `{node.id}` is not allowed")
            if node.id not in self.names:
                self.names.append(node.id)
            return _Name(node.id)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return _Neg(self.visit(node.operand))
            if isinstance(node.op, ast.UAdd):
                return self.visit(node.operand)
            op = {ast.Not: "`not`", ast.Invert: "`~`"}.get(type(node.op), "this operator")
            raise self.fail(node, f"{op} is not allowed")
        if isinstance(node, ast.BinOp):
            sym = _BINOPS.get(type(node.op))
            if sym is None:
                raise self.fail(node, f"the operator `{_op_text(node.op)}` is not allowed")
            return _Bin(sym, self.visit(node.left), self.visit(node.right))
        if isinstance(node, ast.Call):
            return self.call(node)
        what = _FORBIDDEN.get(type(node), f"`{type(node).__name__}` is not allowed")
        raise self.fail(node, what)

    def call(self, node: ast.Call) -> _Node:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the functions "
                            f"{', '.join(FUNCTIONS)} can be called, by name")
        fname = node.func.id
        if fname not in FUNCTIONS:
            raise self.fail(node, f"unknown function `{fname}`"
                            f"{did_you_mean(fname, FUNCTIONS)}")
        if node.keywords:
            raise self.fail(node, f"`{fname}` takes no keyword arguments")
        lo, hi = FUNCTIONS[fname]
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = f"exactly {lo}" if hi == lo else f"at least {lo}"
            raise self.fail(node, f"`{fname}` takes {want} argument(s), got {n}")
        return _Call(fname, tuple(self.visit(a) for a in node.args))


def _op_text(op: ast.operator) -> str:
    return {
        ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
        ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
    }.get(type(op), type(op).__name__)
