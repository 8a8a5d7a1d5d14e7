"""A portfolio file is untrusted input: every bad one exits 2 naming the file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mlscope.cli import main


def _run(tmp_path: Path, text: str) -> tuple[int, str]:
    f = tmp_path / "portfolio.yaml"
    f.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(main, ["portfolio", str(f), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()  # nothing written on bad input
    return res.exit_code, res.output


INLINE = """projects:
  - name: a
    impact: {cheap_prediction: high}
    feasibility: {human_can_do: yes}
"""


@pytest.mark.parametrize(("text", "needles"), [
    ("projects:\n  - name: a\n    impact: {cheap_prediction: high}\n",
     ["portfolio.yaml:2", "missing its feasibility drivers", "Fix:"]),
    ("projects:\n  - name: a\n", ["portfolio.yaml:2", "impact and feasibility", "Fix:"]),
    (INLINE.replace("cheap_prediction", "cheap_predictoin"),
     ["portfolio.yaml:3", "unknown driver `cheap_predictoin`", "did you mean",
      "cheap_prediction"]),
    (INLINE.replace("high", "hgih"), ["portfolio.yaml:3", "low, medium or high", "Fix:"]),
    ("projects:\n  - charter: nowhere/mlscope.yaml\n",
     ["portfolio.yaml:2", "charter `nowhere/mlscope.yaml` not found", "relative to the "
      "portfolio file"]),
    ("projects:\n  - charter: .\n", ["portfolio.yaml:2", "not found"]),
    (INLINE + "  - name: a\n    impact: {cheap_prediction: low}\n"
              "    feasibility: {human_can_do: no}\n", ["two projects are named `a`"]),
    ("project:\n  - name: a\n", ["unknown key `project`", "did you mean", "projects"]),
    ("projects: []\n", ["portfolio.yaml:1", "list of projects"]),
    ("projects:\n  - name: a\n    archetype: robot\n    impact: {cheap_prediction: high}\n"
     "    feasibility: {human_can_do: yes}\n", ["unknown archetype 'robot'"]),
    ("a: &x [1]\nb: !!python/object:os.system [1]\n", ["portfolio.yaml"]),
    ("", ["empty"]),
])
def test_bad_portfolio_exits_2(tmp_path: Path, text: str, needles: list[str]) -> None:
    code, out = _run(tmp_path, text)
    assert code == 2, out
    flat = " ".join(out.split())
    for n in needles:
        assert n in flat, (n, out)


def test_missing_and_huge_files(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["portfolio", str(tmp_path / "none.yaml")])
    assert res.exit_code == 2
    assert "not found" in res.output
    big = tmp_path / "big.yaml"
    big.write_text("projects:\n" + "#" * (1 << 20) + "\n")
    res = CliRunner().invoke(main, ["portfolio", str(big)])
    assert res.exit_code == 2
    assert "limit is 1 MiB" in res.output


def test_charter_without_drivers(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("project: x\nplanning: {problem: p}\n")
    code, out = _run(tmp_path, "projects:\n  - charter: c.yaml\n")
    assert code == 2
    assert "has no `planning.impact`" in " ".join(out.split())


def test_a_charter_outside_the_project_is_refused_unread(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A portfolio names charters inside its project only, like a charter its data: a path
    to the runner's secrets is refused before the file is opened, its content never shown."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.yaml"
    secret.write_text("token: s3cr3t-value\nplanning: {impact: {cheap_prediction: high}}\n",
                      encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.delenv("MLSCOPE_ALLOW_DIRS", raising=False)
    monkeypatch.chdir(project)
    code, out = _run(project, f"projects:\n  - charter: {secret}\n")
    assert code == 2
    assert "portfolio.yaml:2" in out
    assert "outside the project" in out
    assert "s3cr3t" not in out
    code, out = _run(project, "projects:\n  - charter: ../outside/secret.yaml\n")
    assert code == 2
    assert "outside the project" in out
    assert "s3cr3t" not in out
