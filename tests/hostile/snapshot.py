"""Checksums of a folder, to prove that a failing command changed nothing in it."""

from __future__ import annotations

import hashlib
from pathlib import Path


def snapshot(root: Path) -> dict[str, str]:
    """Map every file under ``root`` (relative path) to its SHA-256.

    A failing command must leave the input files, the store and every earlier output
    byte-for-byte as they were: compare ``snapshot(before) == snapshot(after)``. Folders
    that Python or the store create as a side effect of importing (``__pycache__``) are
    left out; the store's own files are not.
    """
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_unchanged(before: dict[str, str], root: Path) -> None:
    """Fail naming every file that was added, removed or changed since ``before``."""
    after = snapshot(root)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    touched = added + removed + changed
    assert not touched, (
        f"a failing command touched files: added {added}, removed {removed}, changed {changed}"
    )
