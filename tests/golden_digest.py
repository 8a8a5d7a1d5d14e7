"""Digests of a result.json, to show that a restructuring leaves the numbers unchanged.

A bundled example's result.json is ~18 MB; storing it would bloat the repository, so the
golden files hold SHA-256 digests of its normalised content instead: one per top-level
key, and one per block of 200 elements for the long lists (values, differences,
standings…), so a mismatch names the section and the element range that moved.

Normalised means: the run's identity and timing (``created_at``, ``run_id``,
``timings``, and any ``seconds`` a stage took) are dropped, and the project folder in any
path is replaced by ``<project>``. Everything else, floats included (their exact
``repr``), must match. Regenerate with ``make golden`` only when a change is *meant* to
alter the numbers, and say so in the commit.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

VOLATILE = ("created_at", "run_id", "timings", "seconds")
BLOCK = 200


def normalise(doc: dict[str, Any], project: Path) -> dict[str, Any]:
    """``doc`` without its volatile keys, with the project folder written as <project>."""
    roots = sorted({str(project), str(project.resolve())}, key=len, reverse=True)

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items() if k not in VOLATILE}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, str):
            for r in roots:
                x = x.replace(r, "<project>")
            return x
        return x

    return {k: walk(v) for k, v in doc.items() if k not in VOLATILE}


def _sha(x: Any) -> str:
    text = json.dumps(x, sort_keys=True, ensure_ascii=False, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def digests(doc: dict[str, Any]) -> dict[str, Any]:
    """Per key a digest, or for lists longer than BLOCK a digest per block of elements."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, list) and len(v) > BLOCK:
            out[k] = {"n": len(v), "blocks": [_sha(v[i:i + BLOCK])
                                               for i in range(0, len(v), BLOCK)]}
        else:
            out[k] = _sha(v)
    return out


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Human-readable list of the sections (and element ranges) that differ."""
    out = []
    for k in sorted(set(expected) | set(actual)):
        e, a = expected.get(k), actual.get(k)
        if e == a:
            continue
        if isinstance(e, dict) and isinstance(a, dict) and "blocks" in e and "blocks" in a:
            if e["n"] != a["n"]:
                out.append(f"{k}: {e['n']} elements expected, {a['n']} found")
                continue
            bad = [i for i, (x, y) in enumerate(zip(e["blocks"], a["blocks"], strict=True))
                   if x != y]
            out.append(f"{k}: elements " + ", ".join(
                f"{i * BLOCK}–{min((i + 1) * BLOCK, e['n']) - 1}" for i in bad))
        else:
            out.append(f"{k}: {'missing' if a is None else 'new' if e is None else 'differs'}")
    return out


def digest_file(result_json: Path, project: Path) -> dict[str, Any]:
    return digests(normalise(json.loads(result_json.read_text()), project))
