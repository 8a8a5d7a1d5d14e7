"""Read a stored ``profile.json`` (``mlscope profile``'s record) as untrusted input.

The evaluation reads the charter's software metrics (``latency_p99_ms``, ``peak_memory_mb``
…; :mod:`mlscope.metrics.software`) from the profile record, one figure per model. The
record is a file on disk that anyone may have edited: every figure read is checked (a
number, finite, not negative), and a file that cannot give the figures — missing, not
JSON, the wrong shape, older than an artifact it profiled, or naming none of the
evaluation's models — is refused with the fix (exit 2), never replaced by a default.

Which file: ``profile.results`` in the charter when given (relative to the charter), else
where ``mlscope profile`` writes it, ``mlscope-out/profile/profile.json`` beside the
charter. See docs/profiling.md, "Profile figures as metrics".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlscope.charter.schema import Charter
from mlscope.errors import InputError
from mlscope.metrics.software import SOFTWARE_METRICS
from mlscope.paths import project_file

__all__ = ["DEFAULT_PROFILE_RESULTS", "ProfileFigure", "ProfileResults",
           "profile_results_path", "read_profile_results"]

DEFAULT_PROFILE_RESULTS = "mlscope-out/profile/profile.json"
# A profile record is small (latencies of a few thousand calls per model); refuse a file
# far larger than any record before parsing it.
_MAX_BYTES = 200_000_000


@dataclass(frozen=True)
class ProfileFigure:
    """One model's figure for one software metric: the value and its interval (the
    order-statistic interval of a latency percentile; none for the other figures), or
    why there is none."""

    value: float | None
    lower: float | None = None
    upper: float | None = None
    undefined: str | None = None
    # A latency's one-sided upper confidence bound (`upper_ms`): what a budget is held to.
    bound: float | None = None


@dataclass
class ProfileResults:
    """The figures of a stored profile: model → software metric → figure."""

    path: Path
    created: str
    confidence: float | None
    figures: dict[str, dict[str, ProfileFigure]] = field(default_factory=dict)

    def figure(self, model: str, metric: str) -> ProfileFigure:
        """``model``'s figure for ``metric``; undefined, with why, when it has none."""
        per = self.figures.get(model)
        if per is None:
            return ProfileFigure(None, undefined=f"model `{model}` is not in the profile "
                                 f"record {self.path.name}; profile it with `mlscope profile`")
        return per.get(metric) or ProfileFigure(None, undefined="not in the profile")


def profile_results_path(charter: Charter, base_dir: Path) -> Path:
    """The profile record the charter's software metrics are read from (inside the
    project): ``profile.results``, else :data:`DEFAULT_PROFILE_RESULTS`."""
    given = charter.profile.results if charter.profile is not None else None
    return project_file(base_dir, given or DEFAULT_PROFILE_RESULTS, what="profile.results")


def _bad(path: Path, what: str) -> InputError:
    return InputError(f"profile results {path}: {what}; re-run `mlscope profile` on the "
                      "charter to write it again (docs/profiling.md)")


def _number(x: Any, path: Path, where: str, *, nullable: bool = True) -> float | None:
    if x is None and nullable:
        return None
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or x < 0:
        raise _bad(path, f"`{where}` must be a finite number ≥ 0 or null, got {x!r}")
    return float(x)


def _mapping(x: Any, path: Path, where: str) -> Mapping[str, Any] | None:
    if x is None:
        return None
    if not isinstance(x, Mapping):
        raise _bad(path, f"`{where}` must be an object, got {type(x).__name__}")
    return x


def _latency(rec: Mapping[str, Any], key: str, path: Path, where: str) -> ProfileFigure:
    ss = _mapping(rec.get("single_stream"), path, f"{where}.single_stream")
    if ss is None:
        return ProfileFigure(None, undefined="no single-stream run in the profile (run "
                             "`mlscope profile --scenario single-stream`)")
    pct = _mapping(ss.get("percentiles"), path, f"{where}.single_stream.percentiles") or {}
    p = _mapping(pct.get(key), path, f"{where}.single_stream.percentiles.{key}")
    if p is None:
        return ProfileFigure(None, undefined=f"no {key} in the profile's single-stream run")
    w = f"{where}.single_stream.percentiles.{key}"
    value = _number(p.get("value_ms"), path, f"{w}.value_ms")
    low = _number(p.get("low_ms"), path, f"{w}.low_ms")
    high = _number(p.get("high_ms"), path, f"{w}.high_ms")
    bound = _number(p.get("upper_ms"), path, f"{w}.upper_ms")
    if value is None:
        return ProfileFigure(None, undefined=f"the profile has no {key} value")
    if low is not None and high is not None and not low <= value <= high:
        raise _bad(path, f"`{w}`: the interval [{low}, {high}] does not hold the value {value}")
    if low is None or high is None:
        # Too few calls for the two-sided interval: the value stands alone.
        return ProfileFigure(value, bound=bound)
    return ProfileFigure(value, low, high, bound=bound)


def _plain(rec: Mapping[str, Any], metric: str, path: Path, where: str) -> ProfileFigure:
    if metric == "model_size_mb":
        v, src, why = rec.get("size_mb"), f"{where}.size_mb", "the artifact's size is unknown"
    elif metric == "peak_memory_mb":
        mem = _mapping(rec.get("memory"), path, f"{where}.memory") or {}
        v, src = mem.get("peak_mb"), f"{where}.memory.peak_mb"
        why = "memory was not measured (run `mlscope profile` without --no-memory)"
    elif metric == "throughput_qps":
        qs = _mapping(rec.get("qps_search"), path, f"{where}.qps_search") or {}
        v, src = qs.get("qps"), f"{where}.qps_search.qps"
        why = ("no QPS search in the profile, or no rate met the bound (run `mlscope "
               "profile --scenario server --latency-bound-ms B`)")
    else:
        off = _mapping(rec.get("offline"), path, f"{where}.offline") or {}
        v, src = off.get("throughput_rows_per_s"), f"{where}.offline.throughput_rows_per_s"
        why = "no offline run in the profile (run `mlscope profile --scenario offline`)"
    value = _number(v, path, src)
    return ProfileFigure(value) if value is not None else ProfileFigure(None, undefined=why)


def read_profile_results(path: Path, *, metrics: Iterable[str], models: Iterable[str],
                         artifacts: Iterable[Path] = ()) -> ProfileResults:
    """The figures of ``metrics`` for every model of the record at ``path``.

    Parameters
    ----------
    path
        The record (:func:`profile_results_path`).
    metrics
        Software metric names (:data:`~mlscope.metrics.software.SOFTWARE_METRICS`).
    models
        The evaluation's models: at least one must be in the record.
    artifacts
        The profiled artifacts' files: one modified after the record was written makes
        the record stale.

    Raises
    ------
    InputError
        A missing, unreadable, malformed or stale record, a figure that is not a finite
        number ≥ 0, or a record that names none of ``models``.
    """
    if not path.is_file():
        raise InputError(
            f"the charter names software metrics, but the profile results {path} do not "
            "exist; run `mlscope profile CHARTER` first (it writes them there), or point "
            "`profile.results` at the record (docs/profiling.md)")
    if path.stat().st_size > _MAX_BYTES:
        raise _bad(path, f"larger than {_MAX_BYTES // 10**6} MB: not a profile record")
    written = path.stat().st_mtime
    for a in artifacts:
        if a.is_file() and a.stat().st_mtime > written:
            raise InputError(
                f"the profile results {path} are stale: the artifact {a} changed after "
                "they were written; re-run `mlscope profile` on the charter")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"),
                         parse_constant=lambda c: _reject(path, c))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"not JSON ({exc})") from None
    top = _mapping(raw, path, "(top level)")
    if top is None:
        raise _bad(path, "it holds `null`, not a profile record")
    recs = _mapping(top.get("models"), path, "models")
    if not recs:
        raise _bad(path, "no `models` in it")
    created = str(top.get("created", ""))
    opts = _mapping(top.get("options"), path, "options") or {}
    conf = _number(opts.get("confidence"), path, "options.confidence")
    wanted = [m for m in metrics if m in SOFTWARE_METRICS]
    models = list(models)
    if not set(recs) & set(models):
        raise InputError(
            f"the profile results {path} name none of the evaluation's models (profiled: "
            f"{', '.join(map(str, recs))}; models: {', '.join(models)}); name each "
            "model's artifact under `profile.artifacts` with the model's name and re-run "
            "`mlscope profile`")
    out = ProfileResults(path=path, created=created, confidence=conf)
    for name, rec in recs.items():
        where = f"models.{name}"
        r = _mapping(rec, path, where)
        if r is None or name not in models:
            continue
        out.figures[name] = {
            m: (_latency(r, SOFTWARE_METRICS[m].percentile or "", path, where)
                if SOFTWARE_METRICS[m].percentile else _plain(r, m, path, where))
            for m in wanted}
    return out


def _reject(path: Path, const: str) -> Any:
    # Python's json reads NaN and Infinity; a profile record never holds them.
    raise _bad(path, f"holds `{const}`, which is not a number a figure can be")
