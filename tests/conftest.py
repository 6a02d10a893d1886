"""Fixtures shared by the whole suite: real local services on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import itertools
import socket
import threading
import time

import pytest
import pytest_socket

from dacs.testbed.servers import MosquittoBroker, PostgresServer

_database_names = itertools.count()


@contextmanager
def loopback_sockets() -> Iterator[None]:
    """Allow real sockets while a session-scoped service starts.

    The Home Assistant test plugin blocks socket creation before every test;
    session fixtures are set up inside that window.
    """
    blocked = socket.socket
    pytest_socket.enable_socket()
    try:
        yield
    finally:
        socket.socket = blocked  # type: ignore[misc]


# Short-lived worker threads this project and its libraries start: an event
# plan being solved, a VTN request, aiosqlite's connection worker. On a busy
# machine one can still be finishing when its test ends.
_WORKER_THREAD_NAMES = (
    "dacs-event-plan",
    "dacs-openadr-request",
    "_connection_worker_thread",
)
_WORKER_JOIN_S = 10.0


@pytest.fixture(autouse=True)
def _worker_threads_finished() -> Iterator[None]:
    """Wait (bounded) for the test's worker threads before teardown checks run.

    The Home Assistant test plugin fails any test that leaves a thread
    running; this fixture's teardown runs before the plugin's, so a worker
    that finishes within the bound is not reported, and one that hangs still is.
    """
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + _WORKER_JOIN_S
    for thread in set(threading.enumerate()) - before:
        if any(name in thread.name for name in _WORKER_THREAD_NAMES):
            thread.join(max(0.0, deadline - time.monotonic()))


@pytest.fixture(autouse=True)
def _loopback_only_sockets(socket_enabled: None) -> None:
    """Tests talk to real services on 127.0.0.1; every other host stays blocked."""


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    """A fresh Mosquitto broker on a free 127.0.0.1 port, stopped afterwards."""
    with MosquittoBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, on a free 127.0.0.1 port."""
    with loopback_sockets():
        server = PostgresServer()
        server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """DSN of a new, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"test_{next(_database_names)}")
