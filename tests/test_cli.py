"""The CLI: outputs written, exit codes 0/1/2, no traceback for a user's mistake."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlscope.cli import main
from tests.conftest import base_charter


def test_run_writes_outputs_and_exits_0(project: Callable[..., Path], tmp_path: Path) -> None:
    cpath = project()
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(cpath), "--out", str(out), "--resamples", "20"])
    assert r.exit_code == 0, r.output
    assert (out / "result.json").exists()
    assert (out / "report.html").exists()
    data = json.loads((out / "result.json").read_text())
    assert data["exit_code"] == 0
    assert data["selection"]["primary"]["winner"] in r.output


def test_unmet_requirement_exits_1(project: Callable[..., Path], tmp_path: Path) -> None:
    cpath = project(charter=base_charter(requirements={"roc_auc": ">= 0.995"}))
    r = CliRunner().invoke(main, ["run", str(cpath), "-o", str(tmp_path / "o"),
                                  "--resamples", "0", "-q"])
    assert r.exit_code == 1


def test_bad_column_exits_2_without_traceback(project: Callable[..., Path]) -> None:
    c = base_charter()
    c["data"]["label"] = "labl"
    r = CliRunner().invoke(main, ["run", str(project(charter=c)), "--resamples", "0"])
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    assert "did you mean `label`" in r.output


def test_invalid_yaml_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "mlscope.yaml"
    p.write_text("project: x\ntask: [binary\n")
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 2
    assert "mlscope.yaml" in r.output
    assert "Traceback" not in r.output


def test_validate_ok(project: Callable[..., Path]) -> None:
    r = CliRunner().invoke(main, ["validate", str(project())])
    assert r.exit_code == 0, r.output
    assert "valid" in r.output


def test_unknown_metric_exits_2(project: Callable[..., Path]) -> None:
    c = base_charter()
    c["metrics"] = [*c["metrics"], "roc_acu"]
    r = CliRunner().invoke(main, ["run", str(project(charter=c))])
    assert r.exit_code == 2
    assert "roc_auc" in r.output


def test_report_rerenders_saved_result(project: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    CliRunner().invoke(main, ["run", str(project()), "-o", str(out), "--resamples", "0", "-q"])
    (out / "report.html").unlink()
    r = CliRunner().invoke(main, ["report", str(out / "result.json")])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").exists()
    # The compact summary points to --verbose, which `report` takes too (it once did not).
    assert "--verbose" in r.output
    assert "Metrics on" not in r.output
    r = CliRunner().invoke(main, ["report", str(out / "result.json"), "--verbose"])
    assert r.exit_code == 0, r.output
    assert "Metrics on" in r.output
    assert "What each rule would pick" in r.output


def test_report_on_non_result_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"schema": "something/9"}))
    r = CliRunner().invoke(main, ["report", str(p)])
    assert r.exit_code == 2


def test_metrics_lists_registry() -> None:
    r = CliRunner().invoke(main, ["metrics", "--task", "binary"])
    assert r.exit_code == 0
    assert "roc_auc" in r.output
    assert "higher" in r.output


@pytest.mark.parametrize("columns", [80, 160])
def test_metrics_reads_whole_at_any_width(columns: int) -> None:
    """Every metric name stands whole on its own line or row (none broken mid-word), and
    text in brackets survives (rich once read `[eps, 1 − eps]` as markup and dropped it)."""
    import re

    from mlscope.metrics.registry import REGISTRY

    r = CliRunner(env={"COLUMNS": str(columns)}).invoke(main, ["metrics"])
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert all(len(line.rstrip()) <= columns for line in lines)
    starts = {line.split()[0] for line in lines if line.strip() and not line.startswith("  ")}
    assert set(REGISTRY) <= starts
    assert "clipped to [eps, 1 − eps]" in re.sub(r"\s+", " ", r.output)


def test_charter_file_untouched(project: Callable[..., Path], tmp_path: Path) -> None:
    cpath = project()
    before = cpath.read_bytes()
    CliRunner().invoke(main, ["run", str(cpath), "-o", str(tmp_path / "o"), "--resamples", "0",
                              "-q"])
    assert cpath.read_bytes() == before
    assert yaml.safe_load(before)["project"] == "test-project"


def test_metric_reference_doc_is_current() -> None:
    """docs/metrics.md is generated from the registry; regenerate it when a metric changes."""
    from mlscope.metrics.reference import markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
    assert doc.read_text(encoding="utf-8") == markdown(), (
        "docs/metrics.md is stale: run `mlscope metrics --markdown > docs/metrics.md`")


def test_metrics_command_lists_every_registered_metric() -> None:
    from mlscope.metrics.registry import REGISTRY

    out = CliRunner().invoke(main, ["metrics", "--markdown"])
    assert out.exit_code == 0
    for name in REGISTRY:
        assert f"| `{name}` |" in out.output


def test_runs_are_recorded_in_the_store(project: Callable[..., Path], tmp_path: Path) -> None:
    from mlscope.store import Store

    cpath = project()
    r = CliRunner().invoke(main, ["run", str(cpath), "-o", str(tmp_path / "a"), "-q",
                                  "--resamples", "0"])
    assert r.exit_code in (0, 1), r.output
    default = cpath.parent / ".mlscope" / "store.sqlite"
    assert default.exists()
    other = tmp_path / "team.sqlite"
    r = CliRunner().invoke(main, ["evaluate", str(cpath), "-o", str(tmp_path / "b"), "-q",
                                  "--resamples", "0", "--store", str(other)])
    assert r.exit_code in (0, 1), r.output
    with Store.open(other) as s:
        runs = s.runs()
        assert [x.command for x in runs] == ["evaluate"]
        assert s.result(runs[0].id).to_dict()["project"] == runs[0].project
    r = CliRunner().invoke(main, ["run", str(cpath), "-o", str(tmp_path / "c"), "-q",
                                  "--resamples", "0", "--no-store"])
    with Store.open(default) as s:
        assert len(s.runs()) == 1


def test_serve_without_a_store_exits_2(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["serve", str(tmp_path)])
    assert r.exit_code == 2
    assert "no store at" in r.output
    (tmp_path / ".mlscope").mkdir()
    (tmp_path / ".mlscope" / "store.sqlite").write_text("not a database", encoding="utf-8")
    r = CliRunner().invoke(main, ["serve", str(tmp_path)])
    assert r.exit_code == 2
    assert (tmp_path / ".mlscope" / "store.sqlite").read_text() == "not a database"


def test_commands_write_to_their_own_folders(project: Callable[..., Path]) -> None:
    """`run` and `diagnose` on one charter keep each other's outputs: by default each
    writes to mlscope-out/<command>/ and says where."""
    cpath = project()
    outs = {}
    for command in ("run", "diagnose"):
        r = CliRunner(env={"COLUMNS": "200"}).invoke(
            main, [command, str(cpath), "--resamples", "0", "--no-store"])
        assert r.exit_code in (0, 1), r.output
        folder = cpath.parent / "mlscope-out" / command
        assert (folder / "result.json").exists()
        assert str(folder) in " ".join(r.output.split()).replace(" ", "") or \
            folder.name in r.output
        outs[command] = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    assert outs["run"]["diagnosis"] is None
    assert outs["diagnose"]["diagnosis"] is not None
