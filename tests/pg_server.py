"""A real PostgreSQL server for the tests: Debian's binaries, a scratch cluster on loopback.

The cluster lives in a temporary folder, listens on 127.0.0.1 at a free port, asks for a password
(SCRAM) over TCP as a shared server would, and is stopped and removed afterwards. PostgreSQL refuses
to run as root, so under root (CI's containers) its commands run as the `postgres` user that the
Debian package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from conftest import free_port

USER, PASSWORD = "zoo", "pg-s3cret-for-tests"


@dataclass(frozen=True)
class Server:
    """A running cluster: where it listens, and how to reach a database on it."""

    host: str
    port: int

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@{self.host}:{self.port}/{database}"

    def new_database(self, name: str) -> str:
        """An empty database on this server, its URL returned."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def binaries() -> Path | None:
    """The folder with initdb and pg_ctl: pg_config's answer, or Debian's versioned folder."""
    found = shutil.which("pg_config")
    if found:
        bindir = subprocess.run([found, "--bindir"], capture_output=True, text=True).stdout.strip()
        if (Path(bindir) / "initdb").exists():
            return Path(bindir)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Cluster:
    """initdb, pg_ctl start on enter; pg_ctl stop and the folder removed on exit."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="zoo-pg-"))
        self.server = Server("127.0.0.1", free_port())

    def __enter__(self) -> Server:
        password_file = self.root / "password"
        password_file.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam("postgres")
            for path in (self.root, password_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.root / "data"), "-U", USER, f"--pwfile={password_file}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--no-sync",
        )  # fmt: skip
        options = f"-p {self.server.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w", "-o", options, "start")
        return self.server

    def __exit__(self, *exc) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*_as_server_user(), str(self.bindir / tool), *args], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")
