"""The envelope ledger reads what it can: one unreadable row hides no other cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dacs.aggregator.storage.database import create_engine, migrate, session_factory
from dacs.aggregator.storage.envelopes import EnvelopeLedger
from dacs.aggregator.storage.tables import CongestionPointRow, EventRow
from dacs.protocol import format_time

START = datetime(2025, 2, 3, 16, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


def _event(event_id: str, intervals: list[dict[str, object]]) -> EventRow:
    return EventRow(
        id=event_id,
        congestion_point_id="tr-1",
        kind="dynamic",
        reason="congestion",
        start=START,
        end=END,
        intervals=intervals,
        created_at=START,
        created_by="api",
    )


async def test_an_unreadable_row_is_left_out_and_logged(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        async with sessions() as session:
            session.add(
                CongestionPointRow(
                    id="tr-1",
                    name="T",
                    rated_capacity_kw=250,
                    grid_operator="DSO",
                    created_at=START,
                )
            )
            session.add(
                _event(
                    "ev-good",
                    [
                        {
                            "start": format_time(START),
                            "end": format_time(END),
                            "cap_w": 180_000.0,
                        }
                    ],
                )
            )
            session.add(_event("ev-empty", []))
            session.add(_event("ev-garbled", [{"start": "soon", "cap_w": "lots"}]))
            await session.commit()
        envelopes = await EnvelopeLedger(sessions).overlapping("tr-1", START, END)
    finally:
        await engine.dispose()
    assert [e.envelope_id for e in envelopes] == ["ev-good"]
    assert [i.cap_w for i in envelopes[0].intervals] == [180_000.0]
    logged = {r.getMessage() for r in caplog.records if r.levelname == "ERROR"}
    assert logged == {
        "event ev-empty is stored unreadably, left out",
        "event ev-garbled is stored unreadably, left out",
    }
