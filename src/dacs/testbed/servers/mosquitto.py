"""A Mosquitto broker on a free loopback port with a throwaway directory."""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import signal
import subprocess
import tempfile
import time

from .errors import ServiceStartError
from .lifecycle import ThrowawayService
from .ports import LOOPBACK, find_free_port, wait_for_port


def mosquitto_binary() -> str | None:
    """Return the path of the mosquitto executable, if installed."""
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )


class MosquittoBroker(ThrowawayService):
    """Run a private Mosquitto broker.

    The broker listens on 127.0.0.1 only. ``extra_config`` is appended to the
    generated configuration (bridges, ACLs, TLS listeners). With
    ``persistence=True`` the broker keeps its queue in the work directory, so
    a stop/start keeps QoS 1 messages, as a real home broker does.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        workdir: Path | None = None,
        extra_config: str = "",
        persistence: bool = False,
        allow_anonymous: bool = True,
    ) -> None:
        """Prepare a broker; nothing runs until start()."""
        self.port = port or find_free_port()
        self.host = LOOPBACK
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="dacs-mosquitto-"))
        self.extra_config = extra_config
        self.persistence = persistence
        self.allow_anonymous = allow_anonymous
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        """Path of the generated configuration file."""
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        """Path of the broker's log file."""
        return self.workdir / "mosquitto.log"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def write_config(self) -> None:
        """Write the configuration file for the current settings."""
        lines = [
            f"listener {self.port} {LOOPBACK}",
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
            f"persistence {'true' if self.persistence else 'false'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "max_queued_messages 100000",
        ]
        if os.geteuid() == 0:
            # Started as root, mosquitto would drop to user "mosquitto", which
            # cannot write the private work directory (persistence, reloads).
            lines.append("user root")
        if self.persistence:
            lines += [
                f"persistence_location {self.workdir}/",
                "autosave_interval 1",
            ]
        self.config_path.write_text("\n".join(lines) + "\n" + self.extra_config + "\n")

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return
        binary = mosquitto_binary()
        if binary is None:
            raise ServiceStartError(
                "mosquitto is not installed; run 'make setup' or "
                "'apt-get install mosquitto'"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [binary, "-c", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        # Another process may already listen on the port: wait for this broker
        # to say it runs (or to exit) before trusting the port check.
        if not self._wait_until_running(log_offset, timeout) or not wait_for_port(
            self.port, timeout
        ):
            self.stop()
            raise ServiceStartError(
                f"mosquitto did not start on port {self.port}: {self.tail_log()}"
            )

    def _wait_until_running(self, log_offset: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                return False
            with self.log_path.open("rb") as log:
                log.seek(log_offset)
                if b" running" in log.read():
                    return True
            time.sleep(0.02)
        return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL when it does not exit)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def freeze(self) -> None:
        """Stop the broker's process (SIGSTOP): connections stay open, nothing answers.

        kill() ends a frozen broker; start() then starts a new one.
        """
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        """Kill the broker at once, as a crash or power cut would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def tail_log(self, lines: int = 20) -> str:
        """Return the last lines of the broker log."""
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cleanup(self) -> None:
        """Stop the broker and remove the work directory if it was created here."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
