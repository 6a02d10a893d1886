"""Fixtures for tests that run inside a real Home Assistant core."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/dacs_hw in every HA test."""
