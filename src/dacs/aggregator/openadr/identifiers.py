"""The EAN codes NL-flex names parties and connections by (``domain.ean``)."""

from __future__ import annotations

from dacs.aggregator.domain.ean import is_ean13, is_ean18, with_check_digit

__all__ = ["is_ean13", "is_ean18", "with_check_digit"]
