"""Homes' acks into the commands table in batches, off the MQTT message loop."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.protocol import Ack

from .batching import BatchWriter
from .tables import CommandRow

# Bind names differ from the column names: SQLAlchemy reserves those for SET.
_RECORD_ACK = (
    update(CommandRow)
    .where(
        CommandRow.command_id == bindparam("b_command_id"),
        # A home may only answer for its own command.
        CommandRow.home_id == bindparam("b_home_id"),
    )
    .values(
        ack_result=bindparam("b_result"),
        ack_reason=bindparam("b_reason"),
        acked_at=bindparam("b_ts"),
    )
)


def _parameters(ack: Ack) -> dict[str, Any]:
    return {
        "b_command_id": ack.command_id,
        "b_home_id": ack.home_id,
        "b_result": ack.result.value,
        "b_reason": ack.reason_code.value,
        "b_ts": ack.ts,
    }


class AckWriter(BatchWriter[dict[str, Any]]):
    """Buffers acks and records them in one transaction per batch.

    One commit per ack in the message loop held every other message back
    for the length of a commit: at 10,000 acks per fan-out that is seconds.
    A batch is written when it reaches ``batch_size`` or ``flush_s`` after its
    first ack, and on stop. Acks of one batch are applied in arrival order,
    so a later answer to the same command wins. A failed write keeps the
    batch and tries again.
    """

    noun = "acks"

    def __init__(
        self, engine: AsyncEngine, *, batch_size: int = 500, flush_s: float = 0.5
    ) -> None:
        """Prepare; run() (or flush()) writes."""
        super().__init__(batch_size=batch_size, flush_s=flush_s)
        self._engine = engine

    def add(self, ack: Ack) -> None:
        """Queue one ack (no I/O)."""
        self._queue(_parameters(ack))

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(_RECORD_ACK, batch)
