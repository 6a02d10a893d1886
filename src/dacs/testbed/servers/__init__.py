"""Throwaway local instances of the external services the project talks to.

The demo, `make ha` and the test suite start their own Mosquitto and
PostgreSQL on free loopback ports, so they never touch a machine's own
services and can run side by side.
"""

from .errors import ServiceError, ServiceStartError
from .mosquitto import MosquittoBroker
from .ports import find_free_port, wait_for_port
from .postgres import PostgresServer
from .tcp_proxy import TcpProxy

__all__ = [
    "MosquittoBroker",
    "PostgresServer",
    "ServiceError",
    "ServiceStartError",
    "TcpProxy",
    "find_free_port",
    "wait_for_port",
]
