"""Ingest of what homes publish: de-duplication, gap counting, batched storage."""
