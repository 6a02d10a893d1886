"""The demo's settlement: seeded history, a real evening on a fast clock, statements to the homes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.api.app_keys import SERVICE
from dacs.aggregator.api.settlement_routes import SETTLEMENT, Settlement
from dacs.aggregator.app import create_app
from dacs.aggregator.clock import ScaledClock
from dacs.aggregator.config import (
    AggregatorConfig,
    ApiConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.settlement.errors import (
    BadPeriodError,
    UnknownCongestionPointError,
)
from dacs.aggregator.settlement.flex_source import TelemetryFlexSource
from dacs.aggregator.settlement.periods import floor_interval
from dacs.aggregator.settlement.statements import StatementIssuer
from dacs.aggregator.storage.database import create_engine, migrate, session_factory
from dacs.aggregator.storage.tables import CongestionPointRow, HomeRow
from dacs.devices import HeatPump
from dacs.home import BrokerSettings, HomeController
from dacs.testbed.neighbourhood.history import seed_history
from dacs.testbed.neighbourhood.settlement_run import (
    EveningSettlement,
    format_settlement,
    settle_evening,
    statements_received,
    wait_for_statements,
)
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.sim.hybrid import (
    HybridHome,
    HybridHomeConfig,
    make_neighbourhood_configs,
)
from dacs.testbed.sim.simulated_heat_pump import serve_home
from dacs.testbed.sim.weather import WeatherSeries

# Monday 20 January 2025, 15:00 local: the history ends, the evening begins.
START = datetime(2025, 1, 20, 14, 0, tzinfo=UTC)
SPEED = 400.0  # simulated seconds per real second: an hour in 9 s
POINT = "tr-e2e"
WEATHER = WeatherSeries.default(wrap=True)


def _heat_pump_homes(count: int) -> list[HybridHomeConfig]:
    """Homes whose heat pumps run at about 0 °C (switch-over well below it)."""
    homes = [
        c
        for c in make_neighbourhood_configs(12, 2025)
        if c.switch_over_outdoor_c is not None and c.switch_over_outdoor_c < -1
    ]
    return homes[:count]


@dataclass
class Evening:
    """A running street: the app, its clock and the home controllers."""

    app: web.Application
    clock: ScaledClock
    controllers: list[HomeController]


@pytest.fixture
async def evening(mosquitto: MosquittoBroker, tmp_path: Path) -> AsyncIterator[Evening]:
    """An aggregator and two real homes (Modbus simulator, controller, broker)."""
    clock = ScaledClock(START, SPEED)
    config = AggregatorConfig(
        database=DatabaseConfig(
            url=f"sqlite:///{tmp_path / 'agg.db'}", telemetry_flush_s=0.2
        ),
        mqtt=MqttConfig(host="127.0.0.1", port=mosquitto.port, client_id="aggregator"),
        api=ApiConfig(operator_tokens=("op",), reader_tokens=("read",)),
        control=ControlConfig(cycle_s=30.0),
    )
    app = create_app(config, clock=clock, provisioner=OpenBrokerProvisioner())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    service = app[SERVICE]
    controllers: list[HomeController] = []
    async with AsyncExitStack() as stack:
        stack.push_async_callback(runner.cleanup)
        await service.registry.add_congestion_point(
            point_id=POINT, name="Street", rated_capacity_kw=100, grid_operator="DSO"
        )
        await service.reload()
        configs = _heat_pump_homes(2)
        codes = await service.registry.create_codes(POINT, count=len(configs))
        ids = [(await service.registry.enroll(c.code)).home_id for c in codes]
        seeded = await seed_history(
            service.sessions,
            homes=list(zip(ids, configs, strict=True)),
            end=START,
            weather=WEATHER,
            days=5,
        )
        assert seeded.rows == 2 * 5 * 288
        for index, (home_id, home_config) in enumerate(zip(ids, configs, strict=True)):
            server = serve_home(
                HybridHome(home_config, WEATHER, START),
                "dacs",
                serial=f"E2E{index}",
                speed=SPEED,
            )
            await server.start()
            stack.push_async_callback(server.stop)
            heat_pump = HeatPump("127.0.0.1", server.port, timeout=5)
            await heat_pump.connect()
            stack.push_async_callback(heat_pump.close)
            controller = HomeController(
                heat_pump,
                home_id=home_id,
                broker=BrokerSettings(
                    host="127.0.0.1", port=mosquitto.port, client_id=home_id
                ),
                telemetry_interval_s=60.0,
                poll_interval_s=60.0,
                control_interval_s=10.0,
                now=clock.now,
                sleep=clock.sleep,
            )
            await controller.start()
            stack.push_async_callback(controller.stop)
            controllers.append(controller)
        assert await service.link.wait_connected(10)
        yield Evening(app=app, clock=clock, controllers=controllers)


async def _until(clock: ScaledClock, moment: datetime) -> None:
    delay = (moment - clock.now()).total_seconds()
    if delay > 0:
        await clock.sleep(delay)


async def test_an_evening_is_settled_and_every_home_receives_its_statement(
    evening: Evening,
) -> None:
    service = evening.app[SERVICE]
    settlement = evening.app[SETTLEMENT]
    begin = floor_interval(evening.clock.now()) + timedelta(minutes=30)
    end = begin + timedelta(hours=1)
    # A cap far below the street's heat pumps: every home is curtailed.
    await service.put_in_force(
        POINT, CapacityEnvelope.day_ahead("ev-e2e", begin, [200.0] * 4)
    )
    await _until(evening.clock, end + timedelta(minutes=5))
    await service.writer.flush()

    result = await settle_evening(
        settlement, congestion_point_id=POINT, start=begin, end=end
    )
    received = await wait_for_statements(evening.controllers, "2025-01")

    deliveries = await settlement.flex.home_deliveries(POINT, begin, end)
    assert len(deliveries) == 2
    for delivery in deliveries:
        assert delivery.limited.any(), "every home was curtailed"
        assert delivery.delivered_kwh > 0
        assert delivery.events == frozenset({"ev-e2e"})
    assert result.period == "2025-01"
    assert result.homes == 2
    assert result.homes_without_baseline == 0
    assert result.homes_delivering == 2
    assert result.delivered_kwh == pytest.approx(
        sum(d.delivered_kwh for d in deliveries)
    )
    # Gas-only all evening delivers the whole baseline: equal up to float dust.
    assert 0 < result.delivered_kwh <= result.baseline_kwh * (1 + 1e-12)
    assert result.homes_paid == 2
    assert result.statements_issued == result.statements_published == 2
    # The residents announced no ask of their own: they are paid the tariff.
    assert result.earnings_eur == pytest.approx(0.25 * result.delivered_kwh, abs=1e-3)
    assert 0 < result.paid_min_eur <= result.paid_median_eur <= result.paid_max_eur
    assert result.paid_eur == pytest.approx(
        result.earnings_eur + result.gas_compensation_eur
    )

    assert received == 2
    assert statements_received(evening.controllers, "2025-01") == 2
    assert statements_received(evening.controllers, "2025-02") == 0
    by_home = {d.home_id: d for d in deliveries}
    for controller in evening.controllers:
        statement = controller.snapshot.statement
        assert statement is not None
        assert statement.home_id == controller.home_id
        assert statement.period == "2025-01"
        assert statement.final is False
        assert statement.events == 1
        assert statement.delivered_kwh == pytest.approx(
            by_home[statement.home_id].delivered_kwh, abs=1e-3
        )
        assert statement.earnings_eur > 0

    text = format_settlement(result, received=received)
    assert "2 of 2 homes" in text
    assert "statements: 2 issued, 2 published, 2 received by the homes" in text
    assert "no baseline" not in text


# -- without a live street --------------------------------------------------------


class _BrokenLink:
    """A publisher whose broker is gone."""

    async def publish(self, message: Any, *, retain: bool = False) -> None:
        raise ConnectionError("broker unreachable")


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@pytest.fixture
async def quiet_street(
    tmp_path: Path,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], _Clock]]:
    """Two enrolled homes with four days of history and no event."""
    engine = create_engine(f"sqlite:///{tmp_path / 'agg.db'}")
    await migrate(engine)
    sessions = session_factory(engine)
    async with sessions() as session:
        session.add(
            CongestionPointRow(
                id=POINT,
                name="Street",
                rated_capacity_kw=100,
                grid_operator="DSO",
                ean=None,
                created_at=START,
            )
        )
        await session.flush()
        session.add_all(
            HomeRow(
                id=f"h-q-{i}",
                congestion_point_id=POINT,
                ean=None,
                enrolled_at=START,
                preferences=None,
            )
            for i in range(2)
        )
        await session.commit()
    await seed_history(
        sessions,
        homes=list(zip(["h-q-0", "h-q-1"], _heat_pump_homes(2), strict=True)),
        end=START,
        weather=WEATHER,
        days=4,
    )
    yield sessions, _Clock(START + timedelta(hours=6))
    await engine.dispose()


def _settlement(
    sessions: async_sessionmaker[AsyncSession], clock: _Clock
) -> Settlement:
    flex = TelemetryFlexSource(sessions, clock=clock)
    return Settlement(
        flex, StatementIssuer(sessions, flex, clock=clock, publisher=_BrokenLink())
    )


async def test_statements_that_cannot_be_sent_are_counted_as_not_published(
    quiet_street: tuple[async_sessionmaker[AsyncSession], _Clock],
) -> None:
    sessions, clock = quiet_street
    settlement = _settlement(sessions, clock)
    result = await settle_evening(
        settlement,
        congestion_point_id=POINT,
        start=START + timedelta(hours=2),
        end=START + timedelta(hours=4),
    )
    assert result.statements_issued == 2
    assert result.statements_published == 0
    # No event: nothing delivered, nobody paid, the statements say so.
    assert result.delivered_kwh == 0
    assert result.homes_paid == 0
    assert result.paid_max_eur == 0
    stored = await settlement.issuer.stored("2025-01")
    assert [row.published_at for row in stored] == [None, None]
    assert "2 issued, 0 published" in format_settlement(result)


async def test_an_unknown_point_or_a_window_outside_the_period_is_refused(
    quiet_street: tuple[async_sessionmaker[AsyncSession], _Clock],
) -> None:
    sessions, clock = quiet_street
    settlement = _settlement(sessions, clock)
    begin, end = START + timedelta(hours=2), START + timedelta(hours=4)
    with pytest.raises(UnknownCongestionPointError, match="tr-nowhere"):
        await settle_evening(
            settlement, congestion_point_id="tr-nowhere", start=begin, end=end
        )
    with pytest.raises(BadPeriodError, match="outside period 2024-12"):
        await settle_evening(
            settlement,
            congestion_point_id=POINT,
            start=begin,
            end=end,
            period="2024-12",
        )
    with pytest.raises(BadPeriodError, match="YYYY-MM"):
        await settle_evening(
            settlement,
            congestion_point_id=POINT,
            start=begin,
            end=end,
            period="January",
        )
    assert await settlement.issuer.stored("2025-01") == []


def test_the_summary_names_homes_without_a_baseline() -> None:
    result = EveningSettlement(
        congestion_point_id="tr-demo",
        period="2025-01",
        start=datetime(2025, 1, 20, 15, 0, tzinfo=UTC),
        end=datetime(2025, 1, 20, 19, 30, tzinfo=UTC),
        homes=50,
        homes_without_baseline=3,
        baseline_kwh=210.04,
        measured_kwh=160.0,
        delivered_kwh=52.36,
        homes_delivering=41,
        homes_paid=41,
        earnings_eur=13.09,
        gas_compensation_eur=20.5,
        paid_min_eur=0.11,
        paid_median_eur=0.8,
        paid_max_eur=1.71,
        statements_issued=50,
        statements_published=50,
    )
    lines = format_settlement(result, received=49).splitlines()
    assert lines[0] == "settlement 2025-01, tr-demo, 20 Jan 16:00 to 20:30 local:"
    assert lines[1] == (
        "delivered flexibility: 52.4 kWh by 41 of 50 homes "
        "(street baseline 210.0 kWh, drawn 160.0 kWh)"
    )
    assert lines[2] == (
        "paid to residents: € 13.09 for the kWh + € 20.50 for the gas = € 33.59; "
        "per paid home min € 0.11, median € 0.80, max € 1.71 (41 homes paid)"
    )
    assert lines[3] == "statements: 50 issued, 50 published, 49 received by the homes"
    assert lines[4].startswith("no baseline for 3 homes")
