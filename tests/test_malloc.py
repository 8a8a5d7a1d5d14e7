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
from numpy._core.multiarray import _get_madvise_hugepage
from mlscope.malloc import keep_freed_memory
applied = keep_freed_memory()
a = np.ones(10_000_000); del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(10_000_000)
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before,
      _get_madvise_hugepage())
"""


def _probe(**env: str) -> tuple[bool, int, bool]:
    full = {k: v for k, v in os.environ.items()
            if k not in ("MLSCOPE_MALLOC", "GLIBC_TUNABLES", "NUMPY_MADVISE_HUGEPAGE")
            and not k.startswith("MALLOC_")}
    full["PYTHONPATH"] = SRC
    full.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0] == "True", int(out[1]), out[2] == "True"


def test_applied_by_default_and_freed_memory_is_reused() -> None:
    applied, faults, huge = _probe()
    assert applied
    assert faults < 50
    assert not huge  # NumPy no longer asks for huge pages
    applied_sys, faults_sys, _ = _probe(MLSCOPE_MALLOC="system")
    assert not applied_sys
    assert faults_sys > faults
    assert _probe(MLSCOPE_MALLOC="system", NUMPY_MADVISE_HUGEPAGE="1")[2]  # left alone


def test_numpy_huge_pages_setting_of_the_user_wins() -> None:
    assert _probe(NUMPY_MADVISE_HUGEPAGE="1")[2]
    # glibc's own variables leave glibc alone, not NumPy's huge pages.
    applied, _, huge = _probe(MALLOC_ARENA_MAX="4")
    assert not applied
    assert not huge


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
