"""User code named by the charter cannot end the process, least of all with success.

A custom metric or a rule baseline that calls ``sys.exit(0)`` (or raises any other
``BaseException``), at import or when called, must make ``mlscope run`` and ``mlscope check``
exit 2 with the user's traceback and the charter entry it came from, and write nothing:
in CI a silent exit 0 would pass the release gate.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import mlscope.evaluation
from mlscope.cli import main
from tests.conftest import base_charter, binary_frame
from tests.hostile.snapshot import assert_unchanged, snapshot

# What the user's code does, as the line that does it (it must show in the traceback).
BEHAVIOURS = {
    "exit-0": "sys.exit(0)",
    "exit-none": "sys.exit()",
    "exit-1": "sys.exit(1)",
    "systemexit-text": 'raise SystemExit("ok")',
    "generatorexit": "raise GeneratorExit",
    "own-baseexception": 'raise Bail("nope")',
    # Brackets in the user's line must show as written, not be read as terminal markup.
    "exit-0-indexing": "sys.exit(len(sys.argv[slice(0)]))",
}
KINDS = ("metric", "rule")
WHEN = ("import", "call")
COMMANDS = ("run", "check")


def _module(kind: str, when: str, behaviour: str) -> str:
    # A name of its own per case: a custom metric's module stays imported in this process.
    return f"hostile_{kind}_{when}_{behaviour.replace('-', '_')}"


def _source(kind: str, when: str, statement: str) -> str:
    top = statement if when == "import" else ""
    body = statement if when == "call" else "pass"
    result = "0.5" if kind == "metric" else 'frame["p_fair"]'
    args = "y, s, w" if kind == "metric" else "frame"
    return (f"import sys\n\n\nclass Bail(BaseException):\n    pass\n\n\n{top}\n\n\n"
            f"def hook({args}):\n    {body}\n    return {result}\n")


def _write_project(root: Path, kind: str, when: str, behaviour: str,
                   statement: str | None = None) -> tuple[Path, str]:
    """A project whose charter names one hostile function; returns (charter, module)."""
    name = _module(kind, when, behaviour)
    (root / f"{name}.py").write_text(
        _source(kind, when, BEHAVIOURS[behaviour] if statement is None else statement),
        encoding="utf-8")
    binary_frame().to_parquet(root / "eval.parquet", index=False)
    c: dict[str, Any] = base_charter("eval.parquet")
    if kind == "metric":
        c["metrics"] = [*c["metrics"], {"id": "hostile", "custom": f"{name}:hook",
                                        "direction": "higher"}]
    else:
        c["baselines"] = {"hostile": {"kind": "rule", "function": f"{name}:hook"}}
    c["intervals"] = {"resamples": 0}
    # `mlscope check` needs a blessed model to gate against.
    c["blessed"] = "fair"
    c["gates"] = {"roc_auc": {"regress": 0.5}}
    charter = root / "mlscope.yaml"
    charter.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    return charter, name


def _assert_reported(output: str, kind: str, name: str, behaviour: str) -> None:
    entry = "custom metric `hostile`" if kind == "metric" else "baselines.hostile"
    assert entry in output, output
    assert f"{name}:hook" in output, output
    # The user's traceback: their file and the line that exited.
    assert f"{name}.py" in output, output
    assert BEHAVIOURS[behaviour] in output, output


CASES = [pytest.param(k, w, b, c, id=f"{k}-{w}-{b}-{c}")
         for k in KINDS for w in WHEN for b in BEHAVIOURS for c in COMMANDS if b != "exit-0"]


@pytest.mark.parametrize(("kind", "when", "behaviour", "command"), CASES)
def test_user_code_exit_is_bad_input(tmp_path: Path, kind: str, when: str, behaviour: str,
                                     command: str) -> None:
    charter, name = _write_project(tmp_path, kind, when, behaviour)
    before = snapshot(tmp_path)
    r = CliRunner().invoke(main, [command, str(charter), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    _assert_reported(r.output, kind, name, behaviour)
    assert_unchanged(before, tmp_path)


def _subprocess_env() -> dict[str, str]:
    # The child imports mlscope from wherever this process did (an installed package or
    # PYTHONPATH=src), as CI would run it.
    env = dict(os.environ)
    src = str(Path(mlscope.evaluation.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("kind", KINDS)
def test_sys_exit_0_fails_the_real_command(tmp_path: Path, kind: str, when: str,
                                           command: str) -> None:
    charter, name = _write_project(tmp_path, kind, when, "exit-0")
    before = snapshot(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "mlscope.cli", command, str(charter),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=_subprocess_env(), cwd=tmp_path, timeout=300,
        check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    _assert_reported(proc.stderr, kind, name, "exit-0")
    assert_unchanged(before, tmp_path)


def test_keyboard_interrupt_in_user_code_stays_an_interrupt(tmp_path: Path) -> None:
    charter, _ = _write_project(tmp_path, "metric", "call", "interrupt",
                                "raise KeyboardInterrupt")
    r = CliRunner().invoke(main, ["run", str(charter), "--out", str(tmp_path / "out")])
    assert r.exit_code == 130, r.output


def _raise_from_deep_inside(code: object) -> Callable[..., Any]:
    def evaluate(*_a: Any, **_k: Any) -> Any:
        raise SystemExit(code)

    return evaluate


@pytest.mark.parametrize("code", [0, None, 1, "ok"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_stray_exit_inside_the_evaluation_is_never_a_success(
        project: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        command: str, code: object) -> None:
    # Whatever raises SystemExit from inside the evaluation (code mlscope forgot to guard,
    # a library), the exit code must come from mlscope's own decision: an internal error.
    monkeypatch.setattr(mlscope.evaluation, "evaluate", _raise_from_deep_inside(code))
    r = CliRunner().invoke(main, [command, str(project()), "--out", str(tmp_path / "out")])
    assert r.exit_code == 3, r.output
    assert "internal error" in r.output
    assert "SystemExit" in r.output


def test_clicks_own_exits_are_kept(project: Callable[..., Path], tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["run", "--help"]).exit_code == 0
    assert CliRunner().invoke(main, ["run", "--resamples", "-3"]).exit_code == 2
    assert CliRunner().invoke(main, ["--version"]).exit_code == 0
    # The commands' own decisions still set the exit code.
    ok = CliRunner().invoke(main, ["run", str(project()), "-o", str(tmp_path / "o"),
                                   "--resamples", "0", "-q"])
    assert ok.exit_code == 0, ok.output


def test_a_reader_that_goes_away_is_not_a_bug_nor_a_success(tmp_path: Path) -> None:
    # `mlscope … | head`: the pipe closes before mlscope writes. Before, rich's
    # SystemExit(1) from the BrokenPipeError was reported as an internal error (exit 3,
    # with a traceback); now the command ends quietly with the shell's SIGPIPE code, 141,
    # never 0 (the verdict was not delivered).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(mlscope.evaluation.__file__).resolve().parents[1]),
         os.environ.get("PYTHONPATH", "")])}
    binary_frame().to_parquet(tmp_path / "eval.parquet", index=False)
    charter = tmp_path / "mlscope.yaml"
    charter.write_text(yaml.safe_dump(base_charter()), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "mlscope.cli", "run", str(charter),
                             "--no-store", "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # before the interpreter has even imported mlscope
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "internal error" not in err
    assert "Traceback" not in err
    # The outputs are written before anything is printed: nothing is lost.
    assert (tmp_path / "out" / "result.json").is_file()
