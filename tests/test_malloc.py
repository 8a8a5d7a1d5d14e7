"""mlscope.malloc: glibc keeps freed memory for the batch commands (fresh processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlscope.errors import InputError

pytestmark = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION")),
    reason="the allocator settings are glibc's",
)

SRC = str(Path(__file__).resolve().parents[1] / "src")

# A second row-sized array after the first is freed: with the settings it reuses the
# freed pages (no page faults); with glibc's defaults it is a fresh mapping that faults
# its pages in again (hundreds of faults for 80 MB even with transparent huge pages).
PROBE = """
import resource, sys, numpy as np
from mlscope.malloc import keep_freed_memory
applied = keep_freed_memory()
a = np.ones(10_000_000); del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(10_000_000)
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _probe(**env: str) -> tuple[bool, int]:
    full = {k: v for k, v in os.environ.items()
            if k != "MLSCOPE_MALLOC" and not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    full["PYTHONPATH"] = SRC
    full.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0] == "True", int(out[1])


def test_applied_by_default_and_freed_memory_is_reused() -> None:
    applied, faults = _probe()
    assert applied
    assert faults < 50
    applied_sys, faults_sys = _probe(MLSCOPE_MALLOC="system")
    assert not applied_sys
    assert faults_sys > faults


@pytest.mark.parametrize("env", [{"MLSCOPE_MALLOC": "system"}, {"MALLOC_ARENA_MAX": "4"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"}])
def test_user_choice_wins(env: dict[str, str]) -> None:
    assert _probe(**env)[0] is False


def test_bad_value_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlscope import malloc

    monkeypatch.setenv("MLSCOPE_MALLOC", "fast")
    with pytest.raises(InputError, match=r"MLSCOPE_MALLOC='fast'.*keep, system"):
        malloc.keep_freed_memory()


def test_cli_bad_value_exits_2(tmp_path: Path) -> None:
    env = dict(os.environ, MLSCOPE_MALLOC="fast", PYTHONPATH=SRC)
    charter = tmp_path / "mlscope.yaml"
    charter.write_text("project: x\n")
    proc = subprocess.run([sys.executable, "-m", "mlscope", "run", str(charter)], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "MLSCOPE_MALLOC='fast'" in proc.stderr
    assert "Traceback" not in proc.stderr
