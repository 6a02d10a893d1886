"""Migration 0005: events stored in kW before it come back as envelopes in W."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json

from sqlalchemy import text

from dacs.aggregator.domain.envelope import EnvelopeKind
from dacs.aggregator.storage.database import create_engine, migrate, session_factory
from dacs.aggregator.storage.envelopes import EnvelopeLedger

START = datetime(2025, 2, 3, 16, 0, tzinfo=UTC)


async def test_an_event_stored_in_kw_comes_back_in_watts(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine, "0001")
        intervals = [
            {
                "start": (START + timedelta(minutes=15 * i)).isoformat(),
                "end": (START + timedelta(minutes=15 * (i + 1))).isoformat(),
                "cap_kw": cap,
            }
            for i, cap in enumerate([66.4, 0.25])
        ]
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO congestion_points (id, name, rated_capacity_kw, "
                    "grid_operator, created_at) VALUES ('tr-1', 'T', 250, 'DSO', :t)"
                ),
                {"t": START},
            )
            await connection.execute(
                text(
                    "INSERT INTO events (id, congestion_point_id, kind, reason, "
                    'start, "end", profile, created_at, created_by) VALUES '
                    "('ev-1', 'tr-1', 'dynamic', 'congestion', :s, :e, :p, :s, 'api')"
                ),
                {
                    "s": START,
                    "e": START + timedelta(minutes=30),
                    "p": json.dumps(intervals),
                },
            )
        await migrate(engine)
        ((point_id, envelope),) = await EnvelopeLedger(
            session_factory(engine)
        ).in_force(START)
    finally:
        await engine.dispose()
    assert point_id == "tr-1"
    assert envelope.kind is EnvelopeKind.DYNAMIC
    assert envelope.origin == "api"
    assert [i.cap_w for i in envelope.intervals] == [66400.0, 250.0]
    assert envelope.end == START + timedelta(minutes=30)
