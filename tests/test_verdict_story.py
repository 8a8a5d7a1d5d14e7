"""One story per run: when the blessed model wins, and when ``mlscope check`` fails.

Keeping the production model is a normal outcome: ``run``, ``check`` and the Python API
say so ("keep …: no candidate beats it"), compare the runner-up with it, and exit by the
requirements. A failing ``check`` leads every output with its verdict and states one exit
code: the terminal, check.md, the report's first headline box and the dashboard's run list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mlscope
from mlscope.cli import main
from mlscope.errors import InputError
from mlscope.result import EvaluationResult
from mlscope.store import Store
from tests.test_check import charter, frame, write
from tests.test_server import fetch, running


def _charter(**over: Any) -> dict[str, Any]:
    # Few resamples keep the tests quick; enough for the slice gate to be able to fail.
    return charter(intervals={"resamples": 200}, **over)


@pytest.fixture(scope="module")
def keep_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rule picks `better`, which is also the blessed model."""
    return write(tmp_path_factory.mktemp("keep"), _charter(blessed="better"), frame())


def _runner_up(res: EvaluationResult) -> str:
    assert res.selection is not None
    return next(str(r["model"]) for r in res.selection.primary.ranking
                if r["eligible"] and r["model"] != "better")


def test_api_keeps_the_blessed_model_and_compares_the_runner_up(keep_path: Path) -> None:
    res = mlscope.evaluate(keep_path)
    assert res.winner == "better"
    assert res.check is not None
    assert res.check.keep
    assert res.check.candidate == _runner_up(res)
    assert res.check.role == "runner-up"
    assert res.check.blessed == "better"
    assert res.check.gates, "the gates are evaluated for the runner-up"
    assert all(g.candidate == res.check.candidate for g in res.check.gates)
    # Nothing to ship, nothing broken: the blessed model meets the (no) requirements.
    assert res.check.passed
    assert res.check.exit_code == 0
    assert res.exit_code == 0


def test_run_says_keep_and_exits_by_the_requirements(keep_path: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["run", str(keep_path), "--out", str(tmp_path),
                                  "--no-store"])
    assert r.exit_code == 0, r.output
    assert "keep better: no candidate beats it under the charter's rule" in r.output
    assert "(runner-up) with blessed better" in r.output
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "keep better: no candidate beats it under the charter&#39;s rule" in html


def test_keep_with_an_unmet_requirement_exits_1(tmp_path: Path) -> None:
    p = write(tmp_path, _charter(blessed="better", requirements={"roc_auc": ">= 0.99"}))
    r = CliRunner().invoke(main, ["run", str(p), "--out", str(tmp_path / "r"), "--no-store"])
    assert r.exit_code == 1, r.output
    r = CliRunner().invoke(main, ["check", str(p), "--out", str(tmp_path / "c"), "-q",
                                  "--no-store"])
    assert r.exit_code == 1, r.output
    first = r.output.splitlines()[0]
    assert first.startswith("FAIL: keep the blessed model better"), first
    assert "requirement roc_auc" in r.output


def test_check_keeps_the_blessed_model(keep_path: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["check", str(keep_path), "--out", str(tmp_path),
                                  "--no-store"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == ("PASS: keep the blessed model better: no candidate beats it under "
                        "the charter's rule"), lines[0]
    saved = EvaluationResult.from_json(tmp_path / "result.json")
    assert saved.check is not None
    runner = saved.check.candidate
    assert f"compared {runner} (runner-up) with blessed better" in r.output
    assert "roc_auc" in r.output  # the gates of the runner-up are reported
    assert saved.exit_code == 0
    md = (tmp_path / "check.md").read_text(encoding="utf-8")
    assert md.splitlines()[0].startswith("### ✅ mlscope check: gates — keep better")
    assert f"compared **{runner}** (runner-up) with blessed **better**" in md


def test_check_candidate_equal_to_blessed_is_a_check_error(keep_path: Path,
                                                          tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["check", str(keep_path), "--candidate", "better",
                                  "--out", str(tmp_path), "--no-store"])
    assert r.exit_code == 2
    assert "--candidate better is the blessed model itself" in r.output
    assert "Traceback" not in r.output


def test_api_candidate_equal_to_blessed_is_worded_for_python(keep_path: Path) -> None:
    with pytest.raises(InputError) as info:
        mlscope.evaluate(keep_path, candidate="better")
    msg = str(info.value)
    assert "--candidate" not in msg
    assert "candidate='better' is the blessed model itself" in msg


@pytest.fixture(scope="module")
def failed_check(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """`broken` regresses on one slice against the blessed `prod`: the check fails."""
    tmp = tmp_path_factory.mktemp("fail")
    p = write(tmp, _charter(), frame())
    store = tmp / "store.sqlite"
    r = CliRunner().invoke(main, ["check", str(p), "--candidate", "broken", "--out",
                                  str(tmp / "out"), "--store", str(store)])
    return tmp, r


def test_failing_check_leads_with_its_verdict(failed_check: tuple[Path, Any]) -> None:
    _, r = failed_check
    assert r.exit_code == 1, r.output
    assert r.output.splitlines()[0].startswith("FAIL: candidate broken")
    assert "exit code 0" not in r.output
    assert "CI step passes" not in r.output
    assert len(re.findall(r"exit code \d", r.output)) == 1
    assert "exit code 1" in r.output


def test_failing_check_outputs_agree(failed_check: tuple[Path, Any]) -> None:
    tmp, _ = failed_check
    md = (tmp / "out" / "check.md").read_text(encoding="utf-8")
    assert md.splitlines()[0].startswith("### ❌ mlscope check: gates — fail")
    saved = EvaluationResult.from_json(tmp / "out" / "result.json")
    assert saved.exit_code == 1
    html = (tmp / "out" / "report.html").read_text(encoding="utf-8")
    body = html[html.index("<body"):]
    first = body[body.index('role="status"'):]
    first = first[:first.index("</section>")]
    assert "mlscope check: fail" in first
    assert "Exit code <code>1</code>" in first
    assert "Exit code <code>0</code>" not in html
    assert "CI step passes" not in html


def test_dashboard_lists_a_failed_check_as_failed(failed_check: tuple[Path, Any]) -> None:
    tmp, _ = failed_check
    with Store.open(tmp / "store.sqlite", create=False) as store, running(store) as base:
        page = fetch(f"{base}/p/gates")
        assert page.status == 200, page.body
        row = page.body[page.body.index('<tr data-run="1">'):]
        row = row[:row.index("</tr>")]
        assert "check failed" in row
        assert "Requirements met" not in row
        run = fetch(f"{base}/runs/1")
        assert "mlscope check: fail" in run.body
        assert "Exit code <code>0</code>" not in run.body


def test_keep_without_an_eligible_runner_up_compares_nothing(tmp_path: Path) -> None:
    # Only `better` clears the constraint: there is no runner-up to compare.
    rule = {"rule": "satisficing", "optimize": "roc_auc", "constraints": {"brier": "<= 0.18"}}
    p = write(tmp_path, _charter(blessed="better", selection=rule))
    res = mlscope.evaluate(p)
    assert res.check is not None
    assert res.check.keep
    assert res.check.candidate == "(none)"
    assert res.check.gates == []
    assert res.check.exit_code == 0
    r = CliRunner().invoke(main, ["check", str(p), "--out", str(tmp_path / "o"), "-q",
                                  "--no-store"])
    assert r.exit_code == 0, r.output
    assert "no other candidate is eligible under the rule" in r.output


def test_named_candidate_while_the_rule_keeps_the_blessed_model(keep_path: Path) -> None:
    res = mlscope.evaluate(keep_path, candidate="twin")
    assert res.check is not None
    assert not res.check.keep
    assert res.check.candidate == "twin"
    assert res.check.role == "given"
    assert "picks the blessed model better itself" in res.check.note


def test_report_of_a_saved_check_tells_the_same_story(failed_check: tuple[Path, Any],
                                                      tmp_path: Path) -> None:
    tmp, _ = failed_check
    r = CliRunner().invoke(main, ["report", str(tmp / "out" / "result.json"), "--html",
                                  str(tmp_path / "again.html")])
    assert r.exit_code == 1, r.output
    assert r.output.splitlines()[0].startswith("FAIL: candidate broken")
    assert len(re.findall(r"exit code \d", r.output)) == 1


def test_dashboard_says_keep(keep_path: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    r = CliRunner().invoke(main, ["check", str(keep_path), "--out", str(tmp_path / "o"), "-q",
                                  "--store", str(store)])
    assert r.exit_code == 0, r.output
    with Store.open(store, create=False) as st, running(st) as base:
        page = fetch(f"{base}/p/gates").body
    assert "mlscope check: keep better" in page
    assert "keep better: no candidate beats it under the charter&#39;s rule" in page
    assert "check passed" in page
