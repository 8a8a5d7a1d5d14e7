"""Which files a charter may name: those inside its project, and nowhere else.

A charter from a pull request names the files mlscope reads (data, annotations, a stored
result, a training history) and the code it runs. Were any path allowed, a charter could
name ``/home/ci/.aws/credentials`` or a committed symlink to it, and the values mlscope
quotes in its messages (a label column's values, a file's columns) would print the
secret in the CI log. So every path a charter names must resolve — symlinks followed —
inside one of these roots:

* the charter's folder;
* the top of the git work tree that holds the charter, if any (so ``../data/eval.parquet``
  from ``ml/mlscope.yaml`` works in a repository);
* each folder listed in the environment variable ``MLSCOPE_ALLOW_DIRS`` (separated by
  ``os.pathsep``), for data kept elsewhere on purpose — set by whoever runs mlscope (a CI
  configuration), never by the charter.

Remote URIs (``s3://…``) read by the Spark engine are not local paths and are not checked
here: access to them is the cluster's credentials' business.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlscope.errors import InputError

__all__ = ["ALLOW_ENV", "allowed_roots", "project_file"]

#: The environment variable that allows further folders.
ALLOW_ENV = "MLSCOPE_ALLOW_DIRS"


def _git_top(folder: Path) -> Path | None:
    for d in (folder, *folder.parents):
        if (d / ".git").exists():
            return d
    return None


def allowed_roots(base_dir: Path) -> list[Path]:
    """The folders a charter in ``base_dir`` may name files in (resolved).

    Parameters
    ----------
    base_dir
        The charter's folder.

    Returns
    -------
    list of Path
        The charter's folder, its git work tree's top, and the folders of
        ``MLSCOPE_ALLOW_DIRS``.
    """
    base = base_dir.expanduser().resolve()
    roots = [base]
    top = _git_top(base)
    if top is not None and top != Path(top.anchor):
        roots.append(top)
    for entry in os.environ.get(ALLOW_ENV, "").split(os.pathsep):
        if entry.strip():
            roots.append(Path(entry.strip()).expanduser().resolve())
    return list(dict.fromkeys(roots))


def project_file(base_dir: Path, p: str | Path, *, what: str) -> Path:
    """``p`` resolved against the charter's folder, refused when it lies outside the project.

    Parameters
    ----------
    base_dir
        The charter's folder; relative paths are resolved against it.
    p
        The path as the charter writes it (``~`` is expanded).
    what
        The charter key, for the message (e.g. "data.table").

    Returns
    -------
    Path
        The path to open (not resolved, so messages show it as the user wrote it).

    Raises
    ------
    InputError
        The path, symlinks followed, is outside every allowed root.
    """
    q = Path(p).expanduser()
    full = q if q.is_absolute() else base_dir / q
    real = full.resolve()
    roots = allowed_roots(base_dir)
    if not any(real.is_relative_to(r) for r in roots):
        shown = ", ".join(str(r) for r in roots)
        plain = Path(os.path.normpath(full.absolute()))
        via = f" (a symbolic link to {real})" if real != plain else ""
        raise InputError(
            f"{what}: {p} is outside the project{via}; a charter may only name files under "
            f"{shown}. Move the file into the project, or allow its folder for this run "
            f"with the environment variable {ALLOW_ENV}=/path/to/folder (set by whoever "
            "runs mlscope, never by the charter)"
        )
    return full
