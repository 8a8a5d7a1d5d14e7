"""Hostile charters: refused with exit 2, file and line, and a fix; never a traceback, never
minutes of work or gigabytes of memory, and no file in the charter's folder touched.

Charters come from pull requests, so every charter is untrusted input.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlscope.charter import validate_charter
from mlscope.cli import main
from tests.conftest import base_charter
from tests.hostile.snapshot import assert_unchanged, snapshot

REPO = Path(__file__).resolve().parents[2]


def write(folder: Path, text: str | bytes, name: str = "mlscope.yaml") -> Path:
    p = folder / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


def refused(charter: Path, *expected: str, command: str = "validate") -> str:
    """Run ``command`` on ``charter``: exit 2, no traceback, the file named, nothing changed."""
    before = snapshot(charter.parent)
    args = [command, str(charter)]
    if command == "run":
        args += ["--resamples", "0", "-q", "--no-store"]
    code, out = cli(*args)
    assert code == 2, out
    assert "Traceback" not in out, out
    assert "internal error" not in out, out
    assert charter.name in out, out
    for e in expected:
        assert e in out, out
    assert_unchanged(before, charter.parent)
    return out


def bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs": each level is a list of ``width`` aliases of the previous one."""
    lines = ["project: x", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def bounded_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process held to 1 GiB of address space and 30 s of CPU."""
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        resource.setrlimit(resource.RLIMIT_CPU, (30, 30))
        sys.argv = ["mlscope", *{args!r}]
        from mlscope.cli import main
        main()
    """)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO),
                                          os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


# --- item 6: YAML alias bombs and other hostile files -------------------------------------


@pytest.mark.parametrize("command", ["validate", "run"])
def test_alias_bomb_is_refused_before_expansion(tmp_path: Path, command: str) -> None:
    p = write(tmp_path, bomb())
    assert p.stat().st_size < 600
    before = snapshot(tmp_path)
    args = [command, str(p)] + (["--resamples", "0", "-q", "--no-store"]
                                if command == "run" else [])
    r = bounded_cli(args, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out[-2000:]
    assert "Traceback" not in out
    assert "alias `*l4` expands the charter past 100,000 values" in out
    assert "expand them" in out
    # The first alias that takes the charter over the budget, on its line.
    assert f"{p.name}:" in out
    assert_unchanged(before, tmp_path)


def test_alias_bomb_problem_names_the_line_of_the_offending_alias(tmp_path: Path) -> None:
    p = write(tmp_path, bomb())
    report = validate_charter(p)
    assert report.charter is None
    [prob] = report.problems
    assert prob.file == str(p)
    # l0..l4 expand to about 67k values; the aliases of l4 on line 7 take it past 100k.
    assert prob.line == 7
    assert "alias `*l4` expands the charter past 100,000 values" in prob.message
    assert "expand them" in str(prob.fix)


def test_many_alias_uses_are_refused(tmp_path: Path) -> None:
    text = "project: x\nbase: &b 1\nmany: [" + ", ".join(["*b"] * 1000) + "]\n"
    p = write(tmp_path, text)
    out = refused(p, "more than 100 aliases", "expand them")
    assert f"{p.name}:3" in out


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "project: x\nloop: &loop [1, *loop]\n")
    refused(p, f"{p.name}:2", "alias `*loop` is inside its own anchor")


def test_a_few_anchors_still_load(tmp_path: Path) -> None:
    # A shared constraint block and a merge key: what charters use anchors for.
    text = """\
        project: anchors
        task: binary
        data:
          table: eval.parquet
          label: label
          split: split
          models: {good: p_good, fair: p_fair}
        metrics: [roc_auc, precision, recall]
        selection:
          rule: satisficing
          optimize: precision
          constraints: &floor
            recall: ">= 0.3"
            roc_auc: ">= 0.6"
        alternatives:
          - &alt
            rule: satisficing
            optimize: precision
            constraints: *floor
            split: validation
          - <<: *alt
            tie_break: roc_auc
        requirements: *floor
        """
    report = validate_charter(write(tmp_path, text))
    assert report.problems == [], [str(p) for p in report.problems]
    assert report.ok
    assert report.charter is not None
    assert report.charter.alternatives[1].tie_break == "roc_auc"


def test_deep_nesting_is_refused_without_recursion_error(tmp_path: Path) -> None:
    p = write(tmp_path, "project: x\ndeep: " + "[" * 10_000 + "]" * 10_000 + "\n")
    refused(p, f"{p.name}:2", "nested")


def test_huge_charter_file_is_refused(tmp_path: Path) -> None:
    filler = "# " + "x" * 98 + "\n"
    p = write(tmp_path, "project: x\n" + filler * 11_000)
    assert p.stat().st_size > 1 << 20
    refused(p, "1 MiB")


def test_non_utf8_bytes_name_the_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, b"project: x\ntask: binary\ndescription: caf\xe9\n")
    refused(p, f"{p.name}:3", "UTF-8")


def test_binary_file_is_refused_without_traceback(tmp_path: Path) -> None:
    p = write(tmp_path, b"project: x\x00\x01\x02\n")
    refused(p, f"{p.name}:1", "binary")


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    p = write(tmp_path, "project: a\ntask: binary\nproject: b\n")
    refused(p, f"{p.name}:3", "lines 1 and 3")


def test_python_tag_is_refused_with_a_fix_about_tags(tmp_path: Path) -> None:
    p = write(tmp_path, 'project: !!python/object/apply:os.system ["touch pwned"]\n')
    out = refused(p, f"{p.name}:1", "!!python/object/apply:os.system", "tag")
    assert "indentation" not in out
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_missing_charter(tmp_path: Path, command: str) -> None:
    refused(tmp_path / "nope.yaml", "not found", command=command)


def test_directory_charter(tmp_path: Path) -> None:
    d = tmp_path / "dir.yaml"
    d.mkdir()
    refused(d, "folder")


def test_fifo_charter_is_refused_without_blocking(tmp_path: Path) -> None:
    # Opening a FIFO (or /dev/zero, /dev/stdin) for reading blocks or never ends.
    p = tmp_path / "mlscope.yaml"
    os.mkfifo(p)
    refused(p, "not a regular file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_charter(tmp_path: Path) -> None:
    p = write(tmp_path, "project: x\n")
    p.chmod(0)
    try:
        refused(p, "cannot read")
    finally:
        p.chmod(0o644)


# --- item 10: bounds outside a metric's range ------------------------------------------


@pytest.fixture
def charter_at(tmp_path: Path) -> Callable[..., Path]:
    def make(**over: object) -> Path:
        c = base_charter(**over)
        return write(tmp_path, yaml.safe_dump(c, sort_keys=False, allow_unicode=True))

    return make


def line_with(p: Path, snippet: str) -> int:
    hits = [i for i, s in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if snippet in s]
    assert hits, snippet
    return hits[0]


def test_requirement_that_can_never_be_met(charter_at: Callable[..., Path]) -> None:
    p = charter_at(requirements={"precision": ">= 2"})
    out = refused(p, "`precision` is in [0, 1]: `>= 2` can never be met",
                  "did you mean `>= 0.2`?", 'Fix: write `precision: ">= 0.2"`')
    assert f"{p.name}:{line_with(p, 'precision:')}" in out


def test_percent_typo_suggests_a_fraction(charter_at: Callable[..., Path]) -> None:
    p = charter_at(requirements={"roc_auc": ">= 80"})
    refused(p, f"{p.name}:{line_with(p, 'roc_auc:')}", "did you mean `>= 0.8`?")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_constraint_below_the_range(charter_at: Callable[..., Path], command: str) -> None:
    sel = {"rule": "satisficing", "optimize": "precision", "constraints": {"roc_auc": "<= -1"}}
    p = charter_at(selection=sel)
    refused(p, f"{p.name}:{line_with(p, 'roc_auc:')}", "can never be met", command=command)


def test_alternative_rule_constraint_is_checked(charter_at: Callable[..., Path]) -> None:
    alt = {"rule": "satisficing", "optimize": "recall", "constraints": {"brier": "< 0"}}
    p = charter_at(alternatives=[alt])
    refused(p, f"{p.name}:{line_with(p, 'brier:')}", "alternatives[0].constraints.brier")


def test_vacuous_bound_is_a_warning(charter_at: Callable[..., Path]) -> None:
    p = charter_at(requirements={"log_loss": ">= -0.1", "recall": "<= 1"})
    report = validate_charter(p)
    assert report.ok, [str(x) for x in report.problems]
    found = {w.path: w for w in report.warnings}
    assert found["requirements.log_loss"].line == line_with(p, "log_loss:")
    assert "every value meets `>= -0.1`" in found["requirements.log_loss"].message
    assert "requirements.recall" in found
    code, out = cli("validate", str(p), "--no-data")
    assert code == 0, out
    assert "warning" in out
    assert "log_loss" in out


def test_gate_margin_wider_than_the_range(charter_at: Callable[..., Path]) -> None:
    p = charter_at(blessed="good", gates={"roc_auc": {"improve": 2}})
    refused(p, f"{p.name}:{line_with(p, 'improve:')}", "gates.roc_auc.improve",
            "did you mean `improve: 0.02`?")


def test_vacuous_gate_is_a_warning(charter_at: Callable[..., Path]) -> None:
    p = charter_at(blessed="good", gates={"precision": {"regress": 5}})
    report = validate_charter(p)
    assert report.ok
    [w] = [w for w in report.warnings if w.path == "gates.precision.regress"]
    assert w.line == line_with(p, "regress:")


def test_external_figure_outside_the_range(charter_at: Callable[..., Path]) -> None:
    ext = {"kind": "external", "values": {"roc_auc": 85}, "source": "paper", "data": "x"}
    p = charter_at(baselines={"paper": ext})
    refused(p, f"{p.name}:{line_with(p, 'roc_auc: 85')}", "did you mean `0.85`?")


def test_custom_metric_without_range_is_not_checked(charter_at: Callable[..., Path]) -> None:
    c = base_charter()
    metrics = [*c["metrics"], {"id": "cost", "custom": "m:cost", "direction": "lower"}]
    p = charter_at(metrics=metrics, requirements={"cost": ">= 1000"})
    report = validate_charter(p)
    assert report.ok, [str(x) for x in report.problems]
    assert not [w for w in report.warnings if "cost" in (w.path or "")]


# --- item 10: names as written ---------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "run"])
def test_non_ascii_slice_name_fix_is_readable(charter_at: Callable[..., Path],
                                              command: str) -> None:
    p = charter_at(slices={"where": {"größer_als": "balance > 1"}})
    out = refused(p, f"{p.name}:{line_with(p, 'größer_als')}", "'größer_als'",
                  "ASCII", "`groesser_als`", command=command)
    assert "gr_er" not in out


def test_markup_in_a_warning_is_printed_as_written(charter_at: Callable[..., Path]) -> None:
    p = charter_at(splits={"selection": "[/]", "report": "[/]"},
                   selection={"rule": "satisficing", "optimize": "precision"})
    code, out = cli("validate", str(p), "--no-data")
    assert code == 0, out
    assert "split `[/]`" in out


def test_quoted_number_parameter_says_remove_the_quotes(charter_at: Callable[..., Path]) -> None:
    metrics = [*base_charter()["metrics"], {"id": "p3", "metric": "precision",
                                            "threshold": "0.3"}]
    p = charter_at(metrics=metrics)
    at = line_with(p, "threshold: '0.3'")
    refused(p, f"{p.name}:{at}", "Fix: remove the quotes: "
            "`threshold: 0.3`")
