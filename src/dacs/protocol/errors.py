"""Errors of the home protocol: every refusal carries a code from the ack vocabulary."""

from __future__ import annotations

from dacs.excerpt import bounded


class ProtocolError(Exception):
    """A message that cannot be accepted.

    ``code`` is one of the ack reason codes (``malformed``,
    ``unsupported_version``, ``expired`` ...), so a home can answer a bad
    command with exactly the reason.
    """

    def __init__(self, code: str, message: str) -> None:
        """Keep the machine-readable code beside the human message, cut short.

        A refusal quotes what it refuses; a peer's 60 KB string is cut so it
        never fills a log.
        """
        super().__init__(bounded(message))
        self.code = code
