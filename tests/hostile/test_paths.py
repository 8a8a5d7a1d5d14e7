"""A charter reads only files inside its project and runs only code beside it.

Were any path allowed, a charter from a pull request could name the CI runner's
credentials (directly, through ``../..``, or through a committed symbolic link) and the
values mlscope quotes in its messages (a file's columns, a label column's values) would
print the secret in the CI log. Every path a charter names must resolve inside the
charter's folder, its git work tree, or a folder the person running mlscope allows with
``MLSCOPE_ALLOW_DIRS``; a custom metric's module must be a file beside the charter.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from mlscope.cli import main
from mlscope.paths import ALLOW_ENV, allowed_roots
from tests.conftest import base_charter, binary_frame
from tests.hostile.snapshot import assert_unchanged, snapshot

SECRET = "AKIA_SECRET_MARKER_42"


def _secret_table(path: Path) -> None:
    """A 'credentials' file that is also a readable table: its columns and values are the
    secret, so any message quoting them would leak it."""
    df = binary_frame(n=60)
    df = df.rename(columns={"label": SECRET})
    df.to_csv(path, index=False)


def _run(charter: Path, *args: str, env: dict[str, str] | None = None,
         command: str = "run") -> Any:
    return CliRunner().invoke(main, [command, str(charter), "--no-store", *args], env=env)


def _write(project: Path, charter: dict[str, Any]) -> Path:
    path = project / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(project folder, a folder outside it holding a secret file)."""
    project, outside = tmp_path / "project", tmp_path / "runner-home"
    project.mkdir()
    outside.mkdir()
    _secret_table(outside / "credentials.csv")
    binary_frame().to_parquet(project / "eval.parquet", index=False)
    return project, outside


def _refused(result: Any, key: str) -> None:
    assert result.exit_code == 2, result.output
    assert key in result.output, result.output
    assert "outside the project" in result.output, result.output
    assert ALLOW_ENV in result.output, result.output
    assert SECRET not in result.output, result.output
    assert "Traceback" not in result.output, result.output


PathCase = Callable[[Path, Path], tuple[dict[str, Any], str]]


def _table_dotdot(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    return base_charter("../runner-home/credentials.csv"), "data.table"


def _table_absolute(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    return base_charter(str(outside / "credentials.csv")), "data.table"


def _table_symlink(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    (project / "innocent.csv").symlink_to(outside / "credentials.csv")
    return base_charter("innocent.csv"), "data.table"


def _table_symlinked_folder(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    (project / "data").symlink_to(outside, target_is_directory=True)
    return base_charter("data/credentials.csv"), "data.table"


def _table_home(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    return base_charter("~/.aws/credentials.csv"), "data.table"


def _predictions(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    df = binary_frame()
    df[["row_id", "label", "split", "region", "device", "balance"]].to_parquet(
        project / "labels.parquet", index=False)
    df[["row_id", "p_good"]].to_parquet(project / "good.parquet", index=False)
    ch = base_charter()
    ch["data"] = {
        "labels": "labels.parquet", "id": "row_id", "label": "label", "split": "split",
        "predictions": {
            "good": {"path": "good.parquet", "score": "p_good"},
            "weak": {"path": str(outside / "credentials.csv"), "score": "p_weak"},
        },
    }
    return ch, "data.predictions.weak"


def _blessed_result(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    (outside / "result.json").write_text('{"secret": "' + SECRET + '"}', encoding="utf-8")
    return base_charter(blessed={"result": str(outside / "result.json"), "model": "good"}), (
        "blessed.result")


def _history(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    (outside / "history.csv").write_text(f"step,{SECRET}\n1,2\n", encoding="utf-8")
    return base_charter(diagnosis={"history": "../runner-home/history.csv"}), (
        "diagnosis.history")


def _annotations(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    ch = base_charter(baselines={"panel": {
        "kind": "human",
        "annotations": {"path": "../runner-home/credentials.csv", "columns": ["p_good", "p_fair"]},
    }})
    return ch, "annotations.path"


def _rule_file(project: Path, outside: Path) -> tuple[dict[str, Any], str]:
    (outside / "rules.py").write_text("def rule(frame):\n    return frame['p_good']\n",
                                      encoding="utf-8")
    ch = base_charter(baselines={"heuristic": {
        "kind": "rule", "function": "../runner-home/rules.py:rule",
    }})
    return ch, "rule"


CASES: dict[str, PathCase] = {
    "table-dotdot": _table_dotdot,
    "table-absolute": _table_absolute,
    "table-symlink": _table_symlink,
    "table-symlinked-folder": _table_symlinked_folder,
    "table-home": _table_home,
    "predictions-file": _predictions,
    "blessed-result": _blessed_result,
    "diagnosis-history": _history,
    "annotations": _annotations,
    "rule-file": _rule_file,
}
# The training history is read by `mlscope diagnose`; every other file by `run` too.
COMMAND = {"diagnosis-history": "diagnose"}


@pytest.mark.parametrize("case", list(CASES))
def test_a_path_outside_the_project_is_refused(
    layout: tuple[Path, Path], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, outside = layout
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    charter, key = CASES[case](project, outside)
    path = _write(project, charter)
    before = snapshot(project.parent)
    result = _run(path, "--out", str(project / "out"), command=COMMAND.get(case, "run"))
    _refused(result, key)
    assert_unchanged(before, project.parent)


def test_the_message_says_when_a_symbolic_link_leads_out(layout: tuple[Path, Path]) -> None:
    project, outside = layout
    path = _write(project, _table_symlink(project, outside)[0])
    result = _run(path)
    _refused(result, "data.table")
    assert "symbolic link" in result.output, result.output


def test_a_folder_allowed_by_whoever_runs_mlscope_is_read(layout: tuple[Path, Path]) -> None:
    project, outside = layout
    binary_frame().to_parquet(outside / "eval.parquet", index=False)
    path = _write(project, base_charter(str(outside / "eval.parquet")))
    assert _run(path).exit_code == 2
    allowed = _run(path, "--out", str(project / "out"), env={ALLOW_ENV: str(outside)})
    assert allowed.exit_code in (0, 1), allowed.output
    assert (project / "out" / "result.json").is_file()


def test_files_anywhere_in_the_git_work_tree_are_read(tmp_path: Path) -> None:
    # ml/mlscope.yaml naming ../data/eval.parquet: an ordinary repository layout.
    (tmp_path / ".git").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "ml").mkdir()
    binary_frame().to_parquet(tmp_path / "data" / "eval.parquet", index=False)
    path = _write(tmp_path / "ml", base_charter("../data/eval.parquet"))
    result = _run(path, "--out", str(tmp_path / "ml" / "out"))
    assert result.exit_code in (0, 1), result.output
    assert allowed_roots(tmp_path / "ml") == [(tmp_path / "ml").resolve(), tmp_path.resolve()]


def test_a_symlink_inside_the_project_to_a_file_inside_is_fine(tmp_path: Path) -> None:
    binary_frame().to_parquet(tmp_path / "real.parquet", index=False)
    (tmp_path / "eval.parquet").symlink_to(tmp_path / "real.parquet")
    path = _write(tmp_path, base_charter("eval.parquet"))
    result = _run(path, "--out", str(tmp_path / "out"))
    assert result.exit_code in (0, 1), result.output


@pytest.mark.parametrize("ref", ["os:getcwd", "json:loads", "subprocess:getoutput",
                                 "mlscope.cli:main", "builtins:exec"])
def test_a_custom_metric_must_be_code_beside_the_charter(tmp_path: Path, ref: str) -> None:
    ch = base_charter()
    ch["metrics"].append({"id": "sneaky", "custom": ref, "direction": "higher"})
    binary_frame().to_parquet(tmp_path / "eval.parquet", index=False)
    path = _write(tmp_path, ch)
    before = snapshot(tmp_path)
    result = _run(path, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "beside the charter" in result.output, result.output
    assert "Traceback" not in result.output, result.output
    assert_unchanged(before, tmp_path)


def test_two_projects_with_a_module_of_the_same_name_each_get_their_own(
    tmp_path: Path,
) -> None:
    # In one process (a notebook, a test session), the second project's `costs.py` must
    # not be the first project's, cached under the same name.
    values = {}
    for k, value in (("a", 0.25), ("b", 0.75)):
        folder = tmp_path / k
        folder.mkdir()
        (folder / "costs.py").write_text(f"def f(y, s, w):\n    return {value}\n",
                                         encoding="utf-8")
        binary_frame().to_parquet(folder / "eval.parquet", index=False)
        ch = base_charter()
        ch["metrics"].append({"id": "c", "custom": "costs:f", "direction": "higher"})
        path = _write(folder, ch)
        result = _run(path, "--out", str(folder / "out"))
        assert result.exit_code in (0, 1), result.output
        data = pd.read_json(folder / "out" / "result.json", typ="series")
        assert value in _custom_values(data.to_dict(), "c"), k
        values[k] = value
    assert values == {"a": 0.25, "b": 0.75}


def _custom_values(result: dict[str, Any], metric: str) -> set[float]:
    out: set[float] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            if x.get("metric") == metric and isinstance(x.get("value"), float):
                out.add(x["value"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(result)
    return out


def test_the_environment_variable_takes_several_folders(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv(ALLOW_ENV, os.pathsep.join([str(a), str(b), ""]))
    roots = allowed_roots(tmp_path / "project")
    assert a.resolve() in roots
    assert b.resolve() in roots
