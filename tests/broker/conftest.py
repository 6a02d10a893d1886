"""Fixtures for the central broker tests: a CA, a central broker with ACL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import Central, Pki, make_pki, start_central

HOMES = {"h-0001": "home-one-secret-0123456789", "h-0002": "home-two-secret-0123456789"}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA with a server certificate for 127.0.0.1."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def central(tmp_path: Path, pki: Pki) -> Iterator[Central]:
    """A running central broker with two homes and the aggregator as users."""
    started = start_central(tmp_path / "central", pki, HOMES)
    try:
        yield started
    finally:
        started.broker.cleanup()
