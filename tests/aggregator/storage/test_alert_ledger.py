"""The alert ledger: what a cycle raised is stored, cleared and counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.control.alerts import Alert, AlertKind
from dacs.aggregator.storage.alerts import AlertLedger
from dacs.aggregator.storage.database import session_factory

T0 = datetime(2025, 1, 20, 16, 0, tzinfo=UTC)


def _alert(
    kind: AlertKind, home: str | None, at: datetime, point: str = "tr-1"
) -> Alert:
    return Alert(
        kind=kind,
        congestion_point_id=point,
        home_id=home,
        message=f"{kind.value} at {home or point}",
        raised_at=at,
    )


async def test_raised_alerts_are_counted_by_kind_since_a_moment(
    engine: AsyncEngine,
) -> None:
    ledger = AlertLedger(session_factory(engine))
    early = _alert(AlertKind.OFFLINE_DURING_EVENT, "h-1", T0 - timedelta(hours=1))
    following = _alert(AlertKind.NOT_FOLLOWING_LIMIT, "h-2", T0 + timedelta(minutes=5))
    await ledger.record("tr-1", raised=[early, following], cleared=[], now=T0)
    await ledger.record(
        "tr-1",
        raised=[
            _alert(AlertKind.NOT_FOLLOWING_LIMIT, "h-3", T0 + timedelta(minutes=9))
        ],
        cleared=[following],  # cleared alerts still count as raised
        now=T0 + timedelta(minutes=9),
    )
    await ledger.record(
        "tr-2",
        raised=[_alert(AlertKind.SHORTFALL, None, T0, point="tr-2")],
        cleared=[],
        now=T0,
    )
    assert await ledger.raised_since("tr-1", T0) == {"not_following_limit": 2}
    assert await ledger.raised_since("tr-1", T0 - timedelta(hours=2)) == {
        "not_following_limit": 2,
        "offline_during_event": 1,
    }
    assert await ledger.raised_since("tr-unknown", T0) == {}
