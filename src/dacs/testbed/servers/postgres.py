"""A PostgreSQL server on a free loopback port with a throwaway data directory."""

from __future__ import annotations

import glob
import os
from pathlib import Path
import pwd
import shutil
import subprocess
import tempfile

from .errors import ServiceStartError
from .lifecycle import ThrowawayService
from .ports import LOOPBACK, find_free_port

SUPERUSER = "postgres"


def postgres_bindir() -> Path | None:
    """Return the newest PostgreSQL server bin directory installed, if any."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer(ThrowawayService):
    """Run a private PostgreSQL server with trust authentication on 127.0.0.1.

    PostgreSQL refuses to run as root; when started by root the server runs
    as the ``postgres`` system user, which owns the throwaway directory.
    """

    def __init__(self, *, port: int | None = None) -> None:
        """Prepare a server; nothing runs until start()."""
        self.port = port or find_free_port()
        self.host = LOOPBACK
        self.workdir = Path(tempfile.mkdtemp(prefix="dacs-postgres-"))
        self.datadir = self.workdir / "data"
        self.log_path = self.workdir / "postgres.log"
        self._bindir: Path | None = None
        self._started = False

    @property
    def dsn(self) -> str:
        """DSN of the server's default database."""
        return self.dsn_for("postgres")

    def dsn_for(self, database: str, driver: str = "postgresql") -> str:
        """DSN of one database; ``driver`` may be e.g. ``postgresql+asyncpg``."""
        return f"{driver}://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=self.workdir,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Initialise the data directory (first time) and start the server."""
        if self._started:
            return
        self._bindir = postgres_bindir()
        if self._bindir is None:
            raise ServiceStartError(
                "PostgreSQL server binaries not found; run 'make setup' or "
                "'apt-get install postgresql'"
            )
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        if not self.datadir.exists():
            result = self._run(
                str(self._bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "--no-sync",
            )
            if result.returncode != 0:
                raise ServiceStartError(f"initdb failed: {result.stderr.strip()}")
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses={LOOPBACK} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        result = self._run(
            str(self._bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(max(1, round(timeout))),
            "start",
        )
        if result.returncode != 0:
            raise ServiceStartError(
                f"PostgreSQL did not start on port {self.port}: "
                f"{result.stderr.strip()} {self.tail_log()}"
            )
        self._started = True

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        if not self._started or self._bindir is None:
            return
        self._run(
            str(self._bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-m",
            "fast",
            "-w",
            "stop",
        )
        self._started = False

    def create_database(self, name: str) -> str:
        """Create a database and return its DSN."""
        if self._bindir is None:
            raise ServiceStartError("start the server first")
        result = self._run(
            str(self._bindir / "createdb"),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            name,
        )
        if result.returncode != 0:
            raise ServiceStartError(f"createdb {name} failed: {result.stderr.strip()}")
        return self.dsn_for(name)

    def tail_log(self, lines: int = 20) -> str:
        """Return the last lines of the server log."""
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cleanup(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
