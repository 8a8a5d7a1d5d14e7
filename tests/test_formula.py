"""The formula language: what it computes, that it is vectorised, and what it refuses."""

from __future__ import annotations

import builtins
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlscope.errors import InputError
from mlscope.formula import Formula, parse_formula


def test_names_and_order_of_appearance() -> None:
    f = parse_formula("(ap_c + ap_a + ap_b + ap_a) / 3")
    assert isinstance(f, Formula)
    assert f.names == frozenset({"ap_a", "ap_b", "ap_c"})
    assert f.names_in_order == ("ap_c", "ap_a", "ap_b")
    assert parse_formula("2 * 3").names == frozenset()
    # a function name is not a metric name
    assert parse_formula("max(a, b) + sqrt(c)").names_in_order == ("a", "b", "c")


@pytest.mark.parametrize(
    ("expr", "values", "expected"),
    [
        ("(ap_a + ap_b + ap_c) / 3", {"ap_a": 0.6, "ap_b": 0.9, "ap_c": 0.3}, 0.6),
        ("5 * fn_rate + fp_rate", {"fn_rate": 0.1, "fp_rate": 0.2}, 0.7),
        ("a - b - c", {"a": 10, "b": 3, "c": 2}, 5.0),  # left-associative
        ("a / b / c", {"a": 12, "b": 3, "c": 2}, 2.0),
        ("2 ** 3 ** 2", {}, 512.0),  # right-associative, as in Python
        ("-a ** 2", {"a": 3}, -9.0),  # ** binds tighter than unary minus
        ("+a - -b", {"a": 1, "b": 2}, 3.0),
        ("1 + 2 * 3", {}, 7.0),
        ("(1 + 2) * 3", {}, 9.0),
        ("1e-3 * 1000", {}, 1.0),
        ("min(a, b, c)", {"a": 3, "b": 1, "c": 2}, 1.0),
        ("max(a, b, c)", {"a": 3, "b": 1, "c": 2}, 3.0),
        ("mean(a, b, c, d)", {"a": 1, "b": 2, "c": 3, "d": 6}, 3.0),
        ("min(a)", {"a": 4}, 4.0),
        ("sqrt(a * b)", {"a": 0.25, "b": 0.64}, 0.4),
        ("log(exp(a))", {"a": 1.5}, 1.5),
        ("abs(a - b)", {"a": 0.2, "b": 0.7}, 0.5),
        ("2 * a * b / (a + b)", {"a": 0.5, "b": 0.25}, 1 / 3),  # an F1 from p and r
    ],
)
def test_evaluates_like_arithmetic(expr: str, values: dict[str, float], expected: float) -> None:
    out = parse_formula(expr).evaluate(values)
    assert isinstance(out, float)
    assert out == pytest.approx(expected, rel=1e-12)


def test_division_by_zero_and_domain_errors_give_nan_without_raising() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning leaks either
        assert math.isnan(parse_formula("a / b").evaluate({"a": 1.0, "b": 0.0}))
        assert math.isnan(parse_formula("a / b").evaluate({"a": 0.0, "b": 0.0}))
        assert math.isnan(parse_formula("0 ** -1").evaluate({}))
        assert parse_formula("0 ** 0").evaluate({}) == 1.0
        assert math.isnan(parse_formula("log(a)").evaluate({"a": -1.0}))
        assert math.isnan(parse_formula("sqrt(a)").evaluate({"a": -1.0}))
        assert math.isnan(parse_formula("a ** 0.5").evaluate({"a": -8.0}))
        out = parse_formula("a / b").evaluate({"a": np.array([1.0, 2.0, 3.0]),
                                               "b": np.array([2.0, 0.0, -1.0])})
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [0.5, np.nan, -3.0])


def test_vectorised_over_bootstrap_replicates() -> None:
    rng = np.random.default_rng(0)
    reps = {k: rng.random(500) for k in ("ap_a", "ap_b", "ap_c")}
    f = parse_formula("(ap_a + ap_b + ap_c) / 3")
    out = f.evaluate(reps)
    assert isinstance(out, np.ndarray)
    assert out.shape == (500,)
    np.testing.assert_allclose(out, (reps["ap_a"] + reps["ap_b"] + reps["ap_c"]) / 3)
    # scalars broadcast against arrays; min/max/mean are elementwise, not reductions
    g = parse_formula("max(a, 0.5) + mean(a, b) - min(a, b)")
    a, b = reps["ap_a"], reps["ap_b"]
    np.testing.assert_allclose(g.evaluate({"a": a, "b": b}),
                               np.maximum(a, 0.5) + (a + b) / 2 - np.minimum(a, b))
    np.testing.assert_allclose(g.evaluate({"a": a, "b": 0.25}),
                               np.maximum(a, 0.5) + (a + 0.25) / 2 - np.minimum(a, 0.25))


_EXPRS = [
    "(a + b + c) / 3",
    "5 * a + b",
    "a / (b - c)",
    "sqrt(a) * log(b) - exp(-c)",
    "max(a, b) ** 2 / min(b, c)",
    "abs(a - b) / mean(a, b, c)",
    "-(a ** b) + c",
]


@settings(max_examples=60, deadline=None)
@given(
    expr=st.sampled_from(_EXPRS),
    data=arrays(np.float64, (3, 7), elements=st.floats(-3, 3, allow_nan=False)),
)
def test_vectorised_equals_elementwise(expr: str, data: np.ndarray) -> None:
    f = parse_formula(expr)
    vec = f.evaluate({"a": data[0], "b": data[1], "c": data[2]})
    assert isinstance(vec, np.ndarray)
    one = [f.evaluate({"a": float(data[0, i]), "b": float(data[1, i]), "c": float(data[2, i])})
           for i in range(data.shape[1])]
    # equal up to the last bits (SIMD and scalar loops may round differently)
    np.testing.assert_allclose(vec, np.asarray(one, dtype=float), rtol=1e-12, atol=0)


def test_missing_name_is_an_input_error_with_did_you_mean() -> None:
    f = parse_formula("ap_a + ap_b")
    with pytest.raises(InputError, match=r"`ap_b`.*did you mean `ap_bb`") as info:
        f.evaluate({"ap_a": 1.0, "ap_bb": 2.0})
    assert "ap_a + ap_b" in str(info.value)


def test_non_numeric_value_and_bad_shapes_are_input_errors() -> None:
    f = parse_formula("a + b")
    with pytest.raises(InputError, match="not numeric"):
        f.evaluate({"a": 1.0, "b": "x"})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="cannot be combined"):
        f.evaluate({"a": np.zeros(3), "b": np.zeros(4)})


@pytest.mark.parametrize(
    ("expr", "part"),
    [
        ("__import__('os')", "__import__"),
        ("__import__('os').system('true')", "system"),
        ("a.real", "attribute access"),
        ("().__class__", "__class__"),
        ("'precision'", "strings"),
        ("f'{a}'", "strings"),
        ("a[0]", "subscripts"),
        ("lambda: 1", "lambdas"),
        ("a < b", "comparisons"),
        ("a and b", "`and` / `or`"),
        ("not a", "`not`"),
        ("a if b else c", "conditional"),
        ("[a, b]", "lists"),
        ("(a, b)", "tuples"),
        ("{a: b}", "dicts"),
        ("[x for x in a]", "comprehensions"),
        ("(x := 1)", "assignment"),
        ("open(a)", "unknown function `open`"),
        ("eval('1')", "unknown function `eval`"),
        ("sqrtt(a)", "did you mean `sqrt`"),
        ("a // b", "`//`"),
        ("a % b", "`%`"),
        ("a @ b", "`@`"),
        ("~a", "`~`"),
        ("True + 1", "True"),
        ("1j", "1j"),
        ("sqrt(a, b)", "exactly 1"),
        ("min()", "at least 1"),
        ("min(a, key=b)", "keyword"),
        ("max(*a)", "starred"),
        ("__builtins__", "__builtins__"),
        ("1" + "0" * 400 + " * a", "too large"),
    ],
)
def test_rejects_anything_outside_the_whitelist(expr: str, part: str) -> None:
    with pytest.raises(InputError) as info:
        parse_formula(expr)
    msg = str(info.value)
    assert part in msg
    assert f"`{expr}`" in msg  # names the whole expression


def test_syntax_errors_and_empty_text() -> None:
    with pytest.raises(InputError, match="not a valid expression"):
        parse_formula("ap_a +")
    with pytest.raises(InputError, match="not a valid expression"):
        parse_formula("import os")
    with pytest.raises(InputError, match="empty"):
        parse_formula("   ")
    # InputError is a ValueError (the charter loader catches ValueError)
    with pytest.raises(ValueError, match="not allowed"):
        parse_formula("a.b")


def test_never_uses_eval_or_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec/compile must not be used")

    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    f = parse_formula("mean(a, b) * 2 + sqrt(c)")
    assert f.evaluate({"a": 1, "b": 3, "c": 4}) == 6.0


def test_equality_str_and_whitespace() -> None:
    assert parse_formula(" a+b ") == parse_formula("a + b")
    assert parse_formula("a + b") != parse_formula("b + a")
    assert str(parse_formula("  a + b ")) == "a + b"
    assert len({parse_formula("a+b"), parse_formula("a + b")}) == 1


def test_pathological_inputs_are_input_errors_not_crashes() -> None:
    for expr in ("-" * 100_000 + "a", "+".join(["a"] * 50_000), "(" * 300 + "a" + ")" * 300):
        with pytest.raises(InputError):
            parse_formula(expr)
    # huge exponents overflow to inf instead of hanging on big integers
    assert parse_formula("9 ** 9 ** 9 ** 9").evaluate({}) == math.inf
