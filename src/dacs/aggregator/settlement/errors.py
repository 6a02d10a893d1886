"""Errors of the settlement; each message says what to change."""

from __future__ import annotations


class SettlementError(Exception):
    """Settlement could not be done as asked."""


class BadPeriodError(SettlementError, ValueError):
    """A period that is not a month written ``YYYY-MM``."""


class BadRangeError(SettlementError, ValueError):
    """A time range that is empty, reversed or too long."""


class UnknownCongestionPointError(SettlementError, KeyError):
    """No congestion point has this id."""

    def __str__(self) -> str:
        """The message itself, not KeyError's quoted repr."""
        return str(self.args[0]) if self.args else "unknown congestion point"


class NotEnoughDataError(SettlementError):
    """No baseline can be fitted: neither the home nor its neighbourhood has history."""
