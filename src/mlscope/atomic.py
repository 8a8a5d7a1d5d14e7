"""Atomic output writes: a reader sees a whole old file or a whole new one, never a part.

Every file mlscope writes for a user (``result.json``, ``report.html``, ``check.md``, the
MLflow import record) goes through this module. A file is written to a hidden temporary
file in the target's own folder (``.{name}.{pid}.{random}.tmp``: same file system, so the
final rename is atomic), flushed and ``fsync``-ed, then renamed onto the target with
:func:`os.replace`, and the folder is ``fsync``-ed so the rename survives a power cut.

:class:`StagedFiles` does this for a *set* of files that belong together (the outputs of one
run): every file is written and synced first, and only then are they renamed, one after the
other, in the order they were staged. Nothing is replaced until every file is ready, so a
process killed while writing leaves the previous set untouched; the renames themselves
take microseconds. A killed process can leave a hidden temporary file behind; the next
commit into the same folder removes it (:func:`remove_stale_temps`).

This module imports nothing of mlscope's: it sits below every layer that writes files.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

__all__ = ["StagedFiles", "copy_atomic", "remove_stale_temps", "write_atomic"]

# `.{name}.{pid}.{8 hex}.tmp`: hidden (a dot first) so that listings and globs such as
# `out/*.json` skip it; the pid says whose it is, so a live writer's file is never removed.
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
_CHUNK = 1 << 20


def _temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _open_temp(target: Path) -> tuple[Path, int]:
    """Create a new, empty temporary file next to ``target``: ``(path, descriptor)``."""
    # 0o666 and no explicit chmod: the process umask applies, exactly as for a file that
    # open() creates (usually 0o644). O_EXCL: never reuse a file someone else put there.
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
             | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    for _ in range(64):
        tmp = _temp_path(target)
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file next to {target}")


def _unlink_quiet(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _keep_mode(target: Path, tmp: Path) -> None:
    """Give ``tmp`` the permissions of the file it replaces, as an in-place write would."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    # A symlink at the target is replaced by a regular file, never written through: the
    # new file gets the umask's permissions, not those of whatever the link pointed at.
    if stat.S_ISREG(st.st_mode):
        os.chmod(tmp, stat.S_IMODE(st.st_mode))


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows cannot open a folder)."""
    if os.name != "posix":
        return
    # Errors are ignored: the renames are done and visible, and a write-only folder or a
    # file system that refuses fsync on a folder (network, FUSE) must not turn a complete
    # write into a failed command.
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return False  # no cheap, safe probe (os.kill(pid, 0) sends CTRL_C on Windows)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _stage(target: Path, data: bytes | Path) -> Path:
    """Write ``data`` (bytes, or the contents of a file) to a synced temp file; its path."""
    if target.is_dir():
        # Found now, before anything is replaced, rather than half-way through a commit.
        raise IsADirectoryError(21, "Is a directory", str(target))
    tmp, fd = _open_temp(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, Path):
                with data.open("rb") as src:
                    shutil.copyfileobj(src, fh, _CHUNK)
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _keep_mode(target, tmp)
    except BaseException:
        _unlink_quiet(tmp)
        raise
    return tmp


def remove_stale_temps(folder: Path, names: Iterable[str], *, older_than: float) -> list[Path]:
    """Remove temporary files that killed writers left next to ``names`` in ``folder``.

    Parameters
    ----------
    folder
        The folder written to.
    names
        Target file names (``result.json``); only their temporary files are considered.
    older_than
        A POSIX time: files modified at or after it are kept (a writer that started later
        may still be using them).

    Returns
    -------
    list of Path
        The files removed. A file whose writer process is still alive, or that belongs to
        this process, is kept.
    """
    wanted = set(names)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m is None or m["name"] not in wanted:
            continue
        pid = int(m["pid"])
        try:
            if not entry.is_file(follow_symlinks=False) or \
                    entry.stat(follow_symlinks=False).st_mtime >= older_than:
                continue
        except OSError:
            continue
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


class StagedFiles:
    """Files of one folder that replace their targets together, after all are written.

    Stage each file with :meth:`put` (written and synced to a hidden temporary file at once)
    or :meth:`drop` (an earlier file of the set that this run does not produce), then
    :meth:`commit`: the renames and removals happen in staging order, with nothing left to
    compute or write in between. Leaving the ``with`` block without a commit (an exception,
    a ``KeyboardInterrupt``) removes the temporary files and any folder that staging
    created: the folder is as it was.

    Parameters
    ----------
    folder
        The folder the files go to; created (with its parents) by the first :meth:`put`.
    started
        When the writer started (POSIX time, default: now). At commit, temporary files of
        the staged names older than this, left by writers that no longer run, are removed.

    Examples
    --------
    >>> with StagedFiles(out) as staged:  # doctest: +SKIP
    ...     staged.put("report.html", html)
    ...     staged.put("result.json", text)  # last: it is the file readers trust first
    ...     staged.commit()
    """

    def __init__(self, folder: str | Path, *, started: float | None = None) -> None:
        self.folder = Path(folder)
        self.started = time.time() if started is None else started
        self._steps: list[tuple[str, Path | None]] = []
        self._created: list[Path] = []
        self._done = False

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._done:
            self.discard()

    def _make_folder(self) -> None:
        if self._created or self.folder.is_dir():
            return
        missing = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        self.folder.mkdir(parents=True, exist_ok=True)
        self._created = missing  # deepest first: the order to remove them in

    def _check(self, name: str) -> None:
        if self._done:
            raise RuntimeError("these files are already committed or discarded")
        if Path(name).name != name or name in (".", ".."):
            raise ValueError(f"a file name without a folder is needed, not {name!r}")
        if any(n == name for n, _ in self._steps):
            raise ValueError(f"{name} is staged twice")

    def put(self, name: str, data: str | bytes, *, encoding: str = "utf-8") -> None:
        """Write ``data`` for ``folder/name`` to a synced temporary file (no rename yet)."""
        self._check(name)
        raw = data.encode(encoding) if isinstance(data, str) else data
        self._make_folder()
        self._steps.append((name, _stage(self.folder / name, raw)))

    def put_copy(self, name: str, source: str | Path) -> None:
        """Like :meth:`put`, with the contents of the file ``source`` (streamed)."""
        self._check(name)
        self._make_folder()
        self._steps.append((name, _stage(self.folder / name, Path(source))))

    def drop(self, name: str) -> None:
        """Remove ``folder/name`` at commit, if it is there (a stale member of the set)."""
        self._check(name)
        self._steps.append((name, None))

    def commit(self) -> list[Path]:
        """Rename every staged file onto its target, in staging order; the files written.

        The folder is synced once after the renames. Stale temporary files of the staged
        names are then removed (:func:`remove_stale_temps`).
        """
        if self._done:
            raise RuntimeError("these files are already committed or discarded")
        written: list[Path] = []
        try:
            for name, tmp in self._steps:
                target = self.folder / name
                if tmp is None:
                    with contextlib.suppress(FileNotFoundError):
                        target.unlink()
                else:
                    os.replace(tmp, target)
                    written.append(target)
        except BaseException:
            self.discard()  # the temporary files not yet renamed
            raise
        self._done = True
        if self._steps and self.folder.is_dir():
            _fsync_dir(self.folder)
            remove_stale_temps(self.folder, [n for n, _ in self._steps],
                               older_than=self.started)
        return written

    def discard(self) -> None:
        """Remove the temporary files (and any folder staging created); replace nothing."""
        self._done = True
        for _, tmp in self._steps:
            if tmp is not None:
                _unlink_quiet(tmp)
        for folder in self._created:
            try:
                folder.rmdir()  # only if empty: never removes what someone else put there
            except OSError:
                break


def write_atomic(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``data`` atomically: readers see the old or the new file whole.

    Parameters
    ----------
    path
        The target file; missing folders are created. A symlink there is replaced by the
        file, not written through.
    data
        Text (encoded with ``encoding``) or bytes.
    encoding
        Used for text.

    Returns
    -------
    Path
        ``path``. A new file gets the usual permissions (``0o666`` less the umask); a
        replaced one keeps its permissions. On any error the target is unchanged and no
        temporary file is left.
    """
    target = Path(path)
    with StagedFiles(target.parent) as staged:
        staged.put(target.name, data, encoding=encoding)
        staged.commit()
    return target


def copy_atomic(source: str | Path, path: str | Path) -> Path:
    """Copy the file ``source`` onto ``path`` atomically (as :func:`write_atomic`)."""
    target = Path(path)
    with StagedFiles(target.parent) as staged:
        staged.put_copy(target.name, source)
        staged.commit()
    return target
