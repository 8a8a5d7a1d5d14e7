"""No unit test may bound a wall-clock time: on a loaded machine any bound fails.

A `< 1.0 s` assertion in the store's scale test once failed a fresh-clone `make test` on a
busy 2-core machine. Speed is measured by `make bench` (``benchmarks/bench_store.py``);
the unit suite checks what makes code fast (queries issued, index used, results read).

The check is static: a name is a *time* when it is assigned from a clock
(``time.perf_counter()``, ``time.monotonic()``, ``time.time()``, ...), from another time,
or from a function that returns one, or when it is called ``elapsed``, ``duration`` or
the like; an ``assert`` that bounds a time from above (``t < x``, ``x > t``) fails the
test. Lower bounds (``seconds > 0``) and equalities say nothing about speed and pass.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CLOCKS = {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time",
          "time_ns", "process_time", "process_time_ns", "default_timer"}
TIME_WORDS = re.compile(r"(elapsed|duration|timings?|wall_?clock|seconds|_secs?)$|^(t_|dt$)")


def _is_clock(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr in CLOCKS and isinstance(f.value, ast.Name) and \
            f.value.id in ("time", "timeit")
    return isinstance(f, ast.Name) and f.id in CLOCKS - {"time"}


def _name(node: ast.AST) -> str | None:
    """The variable a target or an operand stands for: ``x``, ``x[k]`` and ``x.a`` → x/a."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Tuple | ast.List):
        return [n for elt in node.elts for n in _targets(elt)]
    name = _name(node)
    return [name] if name else []


class _Times:
    """The names and functions of one module that hold or return a time."""

    def __init__(self, tree: ast.Module) -> None:
        self.names: set[str] = set()
        self.functions: set[str] = set()
        # Flow-insensitive, to a fixed point: good enough to catch `start = clock();
        # took = clock() - start; assert took < 1`, and `_timed()` helpers returning one.
        changed = True
        while changed:
            changed = False
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and \
                        node.value is not None and self.holds_time(node.value):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for name in (n for t in targets for n in _targets(t)):
                        if name not in self.names:
                            self.names.add(name)
                            changed = True
                elif isinstance(node, ast.FunctionDef) and node.name not in self.functions:
                    returns = [r.value for r in ast.walk(node)
                               if isinstance(r, ast.Return) and r.value is not None]
                    if any(self.holds_time(v) for v in returns):
                        self.functions.add(node.name)
                        changed = True

    def holds_time(self, expr: ast.AST) -> bool:
        for node in ast.walk(expr):
            if _is_clock(node):
                return True
            if isinstance(node, ast.Call) and _name(node.func) in self.functions:
                return True
            name = _name(node) if isinstance(node, ast.Name | ast.Attribute) else None
            if name and (name in self.names or TIME_WORDS.search(name)):
                return True
        return False


def wall_clock_bounds(source: str, filename: str = "<test>") -> list[str]:
    """Every ``assert`` in ``source`` that bounds a time from above, as ``file:line``."""
    tree = ast.parse(source, filename)
    times = _Times(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        for cmp in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
            operands = [cmp.left, *cmp.comparators]
            for i, op in enumerate(cmp.ops):
                bounded = (operands[i] if isinstance(op, ast.Lt | ast.LtE)
                           else operands[i + 1] if isinstance(op, ast.Gt | ast.GtE) else None)
                if bounded is not None and times.holds_time(bounded):
                    found.append(f"{filename}:{node.lineno}: {ast.unparse(node.test)}")
    return found


def test_no_test_bounds_a_wall_clock_time() -> None:
    found = [hit for path in sorted(TESTS.rglob("*.py"))
             for hit in wall_clock_bounds(path.read_text(encoding="utf-8"),
                                          str(path.relative_to(TESTS.parent)))]
    assert not found, ("wall-clock bounds fail on a loaded machine; assert what makes the "
                       "code fast instead and time it in benchmarks/ (make bench):\n"
                       + "\n".join(found))


def test_the_guard_catches_the_patterns_it_is_for() -> None:
    caught = '''
import time
from time import perf_counter

def _timed(f):
    start = time.perf_counter()
    r = f()
    return r, time.perf_counter() - start

def test_a():
    start = time.perf_counter()
    run()
    timings = {}
    timings["runs"] = time.perf_counter() - start
    assert max(timings.values()) < 1.0
    out, took = _timed(run)
    assert took <= 2
    assert 3.0 > took
    t0 = perf_counter()
    assert perf_counter() - t0 < 1
    assert 0 < result.elapsed < 5
'''
    assert len(wall_clock_bounds(caught)) == 5
    passed = '''
import time

def test_b(rec):
    assert rec.seconds > 0          # a lower bound says nothing about speed
    assert remove(older_than=time.time() + 1) == ["x"]
    assert len(rows) < 100
    t0 = time.monotonic()
    wait(until=t0 + 5)
'''
    assert wall_clock_bounds(passed) == []
