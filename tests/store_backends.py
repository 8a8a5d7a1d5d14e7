"""A throwaway PostgreSQL server for the store's tests, and a fresh database per test.

Where the tests find PostgreSQL, in this order:

1. ``MLSCOPE_TEST_POSTGRES_URL``: a server someone runs (a SQLAlchemy URL to a database
   whose user may ``CREATE DATABASE``); every test gets its own database on it.
2. The server programs on this machine (``initdb``, ``pg_ctl``; Debian keeps them under
   ``/usr/lib/postgresql/<version>/bin``): a private cluster is created in a temporary
   folder, listening on a Unix socket in that folder only (no TCP port), and removed when
   the test session ends. As root, the server runs as the ``postgres`` system user (it
   refuses to run as root).
3. Neither: the PostgreSQL variants are skipped, saying why. With
   ``MLSCOPE_TEST_POSTGRES=require`` (CI sets it) they fail instead, so that CI never
   passes by skipping them; ``MLSCOPE_TEST_POSTGRES=off`` skips them on purpose.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

__all__ = [
    "Cluster",
    "PostgresUnavailable",
    "database_snapshot",
    "fresh_database",
    "start_cluster",
    "stop_cluster",
]

URL_ENV = "MLSCOPE_TEST_POSTGRES_URL"
REQUIRE_ENV = "MLSCOPE_TEST_POSTGRES"
DRIVER = "postgresql+psycopg"
PASSWORD_ROLE = "mlscope_pw"  # in a cluster we start, the one role that needs a password


class PostgresUnavailable(Exception):
    """No PostgreSQL to test against; the message says why."""


@dataclass
class Cluster:
    """A PostgreSQL server the tests may create databases on."""

    admin_url: URL  # a database to connect to for CREATE/DROP DATABASE
    stop: list[str] | None = None  # the command that stops a cluster we started
    folder: Path | None = None  # removed after stopping
    template: str | None = None  # what each test's database is copied from, once made


def run_sql(url: str, statement: str) -> list[tuple[object, ...]]:
    """Rows of one statement on the database at ``url`` (committed), outside the store."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            res = conn.execute(sa.text(statement))
            return [tuple(r) for r in res] if res.returns_rows else []
    finally:
        engine.dispose()


def _mode() -> str:
    return os.environ.get(REQUIRE_ENV, "").strip().lower()


def required() -> bool:
    """Whether a missing PostgreSQL fails the tests instead of skipping them (CI)."""
    return _mode() in ("1", "require", "required")


def _binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, newest version first, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    # Debian puts the server programs outside PATH, one folder per major version.
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parent.parent.name)
                      if Path(p).parent.parent.name.isdigit() else 0, reverse=True)
    for initdb in versions:
        folder = Path(initdb).parent
        if (folder / "pg_ctl").exists():
            return folder
    return None


def start_cluster() -> Cluster:
    """The server named by ``MLSCOPE_TEST_POSTGRES_URL``, or a new private one.

    Raises
    ------
    PostgresUnavailable
        No driver, no URL and no server programs, or the server did not start.
    """
    if _mode() in ("0", "off", "skip"):
        raise PostgresUnavailable(f"{REQUIRE_ENV}={_mode()}")
    try:
        import psycopg  # noqa: F401  (only whether it is there)
    except ImportError:
        raise PostgresUnavailable(
            "the psycopg driver is not installed (pip install -e '.[postgres]')") from None
    given = os.environ.get(URL_ENV)
    if given:
        return Cluster(admin_url=make_url(given))
    bin_dir = _binaries()
    if bin_dir is None:
        raise PostgresUnavailable(
            f"no PostgreSQL server programs (initdb, pg_ctl) on this machine and no "
            f"{URL_ENV}; install PostgreSQL (Debian: apt-get install postgresql)")
    as_user: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        # The server refuses to run as root: run it as the system's `postgres` user.
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root and there is no `postgres` user to run the server as"
            ) from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PostgresUnavailable("running as root and `runuser` is missing")
        as_user = [runuser, "-u", "postgres", "--"]
    # A short path: the socket's path must fit in 107 bytes (a TMPDIR may be long).
    folder = Path(tempfile.mkdtemp(prefix="mlscope-pg-",
                                   dir="/tmp" if Path("/tmp").is_dir() else None))
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, log = folder / "data", folder / "server.log"

    def run(*args: str) -> None:
        # In the cluster's folder: the `postgres` user may not enter the checkout (/root/…).
        proc = subprocess.run([*as_user, *args], capture_output=True, text=True,
                              timeout=120, check=False, cwd=folder)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(
                f"`{Path(args[0]).name}` failed ({proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}\n{tail}".strip())

    stop = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
            "stop"]
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync")
        # One role must give its password (tests/test_store_contract.py checks that a
        # refused password is never shown); everyone else is trusted on the private socket.
        hba = data / "pg_hba.conf"
        hba.write_text(f"local all {PASSWORD_ROLE} scram-sha-256\n" + hba.read_text())
        # A throwaway server: no durability (fsync off) buys speed; Unix socket only.
        options = (f"-k {folder} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
            "-w", "-t", "60", "start")
    except (PostgresUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        subprocess.run(stop, capture_output=True, check=False, timeout=60, cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, PostgresUnavailable):
            raise
        raise PostgresUnavailable(f"could not start PostgreSQL: {exc}") from None
    url = URL.create(DRIVER, username="postgres", database="postgres",
                     query={"host": str(folder)})
    return Cluster(admin_url=url, stop=stop, folder=folder)


def stop_cluster(cluster: Cluster) -> None:
    """Stop and remove a cluster :func:`start_cluster` created (nothing for a given URL)."""
    if cluster.stop is not None:
        subprocess.run(cluster.stop, capture_output=True, check=False, timeout=60,
                       cwd=cluster.folder)
    elif cluster.template not in (None, "template1"):
        admin = sa.create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT",
                                 poolclass=sa.pool.NullPool)
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{cluster.template}"')
        finally:
            admin.dispose()
    if cluster.folder is not None:
        shutil.rmtree(cluster.folder, ignore_errors=True)


def _template(conn: sa.Connection, cluster: Cluster) -> str:
    """An empty database that sorts text like a typical team server (ICU ``en-US``:
    ``alpha < Alpha < beta``), not byte by byte as SQLite and the C locale do; made once
    per cluster, since copying it is several times faster than building one."""
    if cluster.template is None:
        name = f"mlscope_template_{uuid.uuid4().hex[:8]}"
        try:
            conn.exec_driver_sql(
                f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                "ICU_LOCALE 'en-US' LOCALE 'C'")
        except sa.exc.DBAPIError:  # a server built without ICU, or before PostgreSQL 15
            name = "template1"
        cluster.template = name
    return cluster.template


@contextmanager
def fresh_database(cluster: Cluster) -> Iterator[URL]:
    """A new, empty database on ``cluster`` for one test; dropped afterwards."""
    name = f"mlscope_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{_template(conn, cluster)}"')
        try:
            yield cluster.admin_url.set(database=name)
        finally:
            with admin.connect() as conn:
                # WITH (FORCE): a connection a failed test left open must not keep it.
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def database_snapshot(url: str | URL) -> dict[str, object]:
    """Everything a refused ``Store.open`` must leave as it was, on any server.

    Per table: columns with types, nullability and defaults, primary and foreign keys,
    indexes, the row count and a SHA-256 over every row (ordered by all columns); and every
    sequence's state on servers that have them.
    """
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            out: dict[str, object] = {}
            for name in sorted(insp.get_table_names()):
                cols = insp.get_columns(name)
                table = sa.table(name, *[sa.column(c["name"]) for c in cols])
                rows = conn.execute(sa.select(table).order_by(*table.c)).all()
                digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
                out[name] = {
                    "columns": [(c["name"], str(c["type"]), c["nullable"],
                                 str(c.get("default"))) for c in cols],
                    "pk": insp.get_pk_constraint(name),
                    "fks": insp.get_foreign_keys(name),
                    "indexes": sorted((i["name"] or "", tuple(i["column_names"]), i["unique"])
                                      for i in insp.get_indexes(name)),
                    "rows": len(rows),
                    "sha256": digest,
                }
            if conn.dialect.name == "postgresql":
                # A refused open must not even draw a run id from the sequence.
                out["sequences"] = [tuple(r) for r in conn.exec_driver_sql(
                    "SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")]
            return out
    finally:
        engine.dispose()
