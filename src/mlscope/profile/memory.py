"""Memory and the environment: peak RSS of a model's load and predictions, measured in a
child process, and the fingerprint of the machine stored with every figure.

Why a child process: the peak resident set size of mlscope's own process holds whatever
it did before (reading the data, other models). A fresh child reads the rows and loads
the model once (the cold load: it imports the model's libraries, which is measured and
reported too), drops it, records its resident size, *then* loads the model again and
predicts; the model's figure is the child's peak minus that baseline, and the child's
total peak is given too. On Linux the peak is ``VmHWM`` of ``/proc/self/status``, reset
just before the second load (``/proc/self/clear_refs``); elsewhere
``resource.getrusage``'s ``ru_maxrss`` (not resettable: the peak then covers the cold
load too).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from mlscope.errors import InputError

__all__ = ["THREAD_VARIABLES", "fingerprint", "peak_memory", "rss_bytes"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
_LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "joblib", "onnxruntime", "onnx",
              "torch", "threadpoolctl")
MB = 1e6  # figures are in megabytes of 10**6 bytes


def _status(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        return None
    return None


def rss_bytes() -> tuple[int | None, int | None]:
    """This process's resident set size now and its peak (bytes); ``None`` where unknown."""
    now, peak = _status("VmRSS"), _status("VmHWM")
    if peak is None:
        try:
            import resource

            kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            peak = kb if sys.platform == "darwin" else kb * 1024  # bytes on macOS
        except (ImportError, OSError):
            peak = None
    return now, peak


def _reset_peak() -> bool:
    try:  # "5" resets VmHWM to the current RSS (Linux ≥ 4.0)
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _child(name: str, spec: str, base_dir: str, rows: Any, batch_size: int, calls: int,
           queue: Any) -> None:
    try:
        import gc

        from mlscope.profile.loaders import load_model, prepare_batches

        # A first load imports the libraries the model needs (scikit-learn alone is some
        # 80 MB): measured as the cold load, then dropped.
        cold_before, _ = rss_bytes()
        first = load_model(name, spec, Path(base_dir))
        cold_after, _ = rss_bytes()
        del first
        gc.collect()
        # The model's own figure: a second load and the predictions, from here.
        before, _ = rss_bytes()
        reset = _reset_peak()
        model = load_model(name, spec, Path(base_dir))
        loaded, _ = rss_bytes()
        for b in prepare_batches(model, rows, batch_size, calls):
            model.predict(b)
        _, peak = rss_bytes()
        queue.put({"ok": True, "before": before, "after_load": loaded, "peak": peak,
                   "peak_reset": reset, "cold_before": cold_before, "cold_after": cold_after})
    except BaseException as exc:  # everything goes back to the parent, as a message
        queue.put({"ok": False, "error": f"{type(exc).__name__}: {exc}"})


def peak_memory(name: str, spec: str, base_dir: Path, rows: Any, *, batch_size: int = 1,
                calls: int = 20, timeout_s: float = 600.0) -> dict[str, Any]:
    """Peak memory of loading ``spec`` and predicting ``calls`` batches, in a child process.

    Returns
    -------
    dict
        ``peak_mb`` (the model's: the child's peak over a load and the predictions minus
        its resident size before them, the libraries already imported by an earlier
        load), ``load_mb`` (resident growth from that load alone), ``cold_load_mb`` (the
        first load's growth, the libraries it imports included), ``process_peak_mb``
        (the child's whole peak, interpreter and libraries included) and ``method``.

    Raises
    ------
    InputError
        The model does not load or its predictions fail in the child.
    """
    ctx = mp.get_context("spawn")  # a clean process: no memory inherited from this one
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, spec, str(base_dir), rows, batch_size,
                                            calls, queue), daemon=True)
    proc.start()
    try:
        got = queue.get(timeout=timeout_s)
    except Exception:
        proc.kill()
        raise InputError(f"model `{name}`: the memory measurement did not finish within "
                         f"{timeout_s:g} s; check that the model predicts") from None
    finally:
        proc.join(timeout=30)
    if not got["ok"]:
        raise InputError(f"model `{name}`: measuring its memory failed: {got['error']}")
    before, peak, loaded = got["before"], got["peak"], got["after_load"]
    if before is None or peak is None:
        return {"peak_mb": None, "load_mb": None, "process_peak_mb": None,
                "method": "unavailable on this platform"}
    cold = (None if got["cold_before"] is None or got["cold_after"] is None
            else max(got["cold_after"] - got["cold_before"], 0) / MB)
    return {"peak_mb": max(peak - before, 0) / MB,
            "load_mb": None if loaded is None else max(loaded - before, 0) / MB,
            "cold_load_mb": cold, "process_peak_mb": peak / MB,
            "batch_size": batch_size, "calls": calls,
            "method": "child process; VmHWM reset before the load, minus VmRSS before it"
            if got["peak_reset"] else "child process; peak RSS minus RSS before the load"}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint() -> dict[str, Any]:
    """The machine and software a figure was measured on: CPU, cores (and those this
    process may use), Python, library versions (read from the installed metadata, not
    imported), and the thread-count variables that change BLAS and OpenMP timings."""
    versions: dict[str, str | None] = {}
    for lib in _LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu": _cpu_model(), "machine": platform.machine(), "cores": os.cpu_count(),
        "cores_usable": usable, "os": platform.platform(),
        "python": platform.python_version(), "implementation": platform.python_implementation(),
        "libraries": versions,
        "threads": {v: os.environ.get(v) for v in THREAD_VARIABLES},
        # Runnable processes per core when the run started: on a busy machine latencies
        # measure the competition too (docs/profiling.md).
        "load_per_core": _load_per_core(usable),
    }


def _load_per_core(cores: int) -> float | None:
    try:
        return round(os.getloadavg()[0] / max(cores, 1), 2)
    except (AttributeError, OSError):  # not on every platform
        return None
