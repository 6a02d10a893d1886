"""The operators' dashboard: the live stream over HTTP, and the page in a real Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
import json
import math
import os
from pathlib import Path
import random
import time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
import pytest

from dacs.aggregator.api import stream as stream_module
from dacs.aggregator.api.app_keys import SERVICE
from dacs.aggregator.api.stream import (
    CYCLE_FEED,
    StreamSubscriber,
    participation_counts,
)
from dacs.aggregator.app import create_app
from dacs.aggregator.config import (
    AggregatorConfig,
    ApiConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.control.dispatch import current_cap_w
from dacs.aggregator.control.loop import CycleReport
from dacs.aggregator.domain.envelope import AMSTERDAM, CapacityEnvelope
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.protocol import (
    DeviceSummary,
    LimitSource,
    Participation,
    Preferences,
    Status,
    Telemetry,
    format_time,
)
from dacs.testbed.browser import CHROMIUM, Page, headless_chromium
from dacs.testbed.servers import MosquittoBroker

POINT = "tr-dalen-01"
READER_TOKEN = "read-token"
READER = {"Authorization": f"Bearer {READER_TOKEN}"}
CYCLE = timedelta(seconds=30)
# 10:45 in Amsterdam on a cold January weekday: six hours of history by 16:45.
START = datetime(2026, 1, 14, 9, 45, tzinfo=UTC)
EVENT_START = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)  # 16:00 local
HOMES = [f"home-{n:02d}" for n in range(1, 25)]
NEVER_ONLINE = "home-21"
GOES_OFFLINE = "home-05"
COMFORT_OVERRIDE = "home-17"
PAUSED = "home-09"
OPTED_OUT = "home-14"
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"


class SteppedClock:
    """Simulated time that moves only when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    async def sleep(self, seconds: float) -> None:
        # The service's own control loop never fires: the test drives every cycle.
        await asyncio.Event().wait()


def _device() -> DeviceSummary:
    return DeviceSummary(
        profile="dacs",
        manufacturer="Sim",
        model="Hybrid 4 kW",
        nominal_power_w=2600,
        safety_floor_w=700,
        limit_step_w=100,
        supports_gas_only=True,
        native_watchdog=True,
    )


def _local_hour(moment: datetime) -> float:
    local = moment.astimezone(AMSTERDAM)
    return local.hour + local.minute / 60 + local.second / 3600


class Neighbourhood:
    """Twenty-four homes behind one transformer that follow their commands like real ones."""

    def __init__(self, service: AggregatorService, clock: SteppedClock) -> None:
        self.service = service
        self.clock = clock
        self.random = random.Random(7)
        self.base_w = {h: 1300 + 1000 * self.random.random() for h in HOMES}
        self.indoor_c = {h: 20.0 + 1.2 * self.random.random() for h in HOMES}
        self.online = {h: h != NEVER_ONLINE for h in HOMES}
        self.seq = 0

    async def build(self, *, with_event: bool = True) -> None:
        await self.service.registry.add_congestion_point(
            point_id=POINT,
            name="Dalen Noord",
            rated_capacity_kw=150,
            grid_operator="Enexis",
        )
        await self.service.reload()
        fleet = self.service.fleet
        for home in HOMES:
            fleet.add(home, POINT)
            if not self.online[home]:
                continue
            fleet.apply_status(
                Status(
                    home_id=home,
                    ts=self.clock.now(),
                    online=True,
                    device=_device(),
                    telemetry_interval_s=10,
                )
            )
            participation = {PAUSED: Participation.PAUSED, OPTED_OUT: Participation.OFF}
            fleet.apply_preferences(
                Preferences(
                    home_id=home,
                    ts=self.clock.now(),
                    participation=participation.get(home, Participation.ON),
                    paused_until=datetime(2026, 1, 14, 19, 0, tzinfo=UTC)
                    if home == PAUSED
                    else None,
                    min_compensation_eur_per_kwh=0.05 + 0.01 * HOMES.index(home),
                    max_curtailment_minutes=240,
                )
            )
        if with_event:
            # A day-ahead request from the grid operator: 16:00-19:30, deepest at 17:00.
            caps = [92, 90, 88, 86, 85, 85, 85, 86, 88, 90, 94, 98, 102, 106]
            await self.service.put_in_force(
                POINT,
                CapacityEnvelope.day_ahead(
                    "gopacs-0114-a", EVENT_START, [c * 1000.0 for c in caps]
                ),
            )

    def other_load_w(self, hour: float) -> float:
        """Households' own consumption: a midday shoulder and the evening peak."""
        evening = 45_000 * math.exp(-(((hour - 18.2) / 1.7) ** 2))
        midday = 8_000 * math.exp(-(((hour - 12.5) / 1.5) ** 2))
        return 36_000 + evening + midday + self.random.uniform(-600, 600)

    def demand_w(self, home: str, hour: float) -> float:
        """What the heat pump would draw unlimited: more as the evening cools."""
        evening = math.exp(-(((hour - 18.0) / 3.0) ** 2))
        return (
            self.base_w[home] * (0.8 + 0.4 * evening) * self.random.uniform(0.95, 1.05)
        )

    def set_online(self, home: str, online: bool) -> None:
        self.online[home] = online
        self.service.fleet.apply_status(
            Status(
                home_id=home,
                ts=self.clock.now(),
                online=online,
                device=_device() if online else None,
                telemetry_interval_s=10,
            )
        )

    def report(self) -> float:
        """Every online home reports; returns the heat pumps' total power."""
        now = self.clock.now()
        hour = _local_hour(now)
        total = 0.0
        for home in HOMES:
            if not self.online[home]:
                continue
            view = self.service.fleet.homes[home]
            cap = current_cap_w(view, now)
            power = self.demand_w(home, hour)
            if cap is not None:
                power = min(power, cap)
                self.indoor_c[home] -= (
                    0.002  # a limited heat pump lets the house cool a little
                )
            else:
                self.indoor_c[home] += 0.001 * (20.8 - self.indoor_c[home])
            override = home == COMFORT_OVERRIDE and hour >= 16.35
            self.service.fleet.apply_telemetry(
                Telemetry(
                    home_id=home,
                    seq=self.seq,
                    boot_id="b1",
                    ts=now,
                    electric_power_w=round(power, 1),
                    thermal_power_w=round(power * 3.4, 1),
                    boiler_active=cap == 0,
                    boiler_thermal_w=None,
                    indoor_temp_c=round(self.indoor_c[home], 2),
                    outdoor_temp_c=1.5,
                    flow_temp_c=42.0,
                    electric_energy_kwh=None,
                    limit_w=None if override else cap,
                    limit_source=LimitSource.NONE
                    if cap is None or override
                    else LimitSource.GAS_ONLY
                    if cap == 0
                    else LimitSource.AGGREGATOR,
                    command_id=view.command.command_id if view.command else None,
                    participation=Participation.ON,
                    comfort_override=override,
                    device_fault=None,
                ),
                now,
            )
            total += power
        self.seq += 1
        return total

    async def step(self) -> CycleReport:
        """Homes report, the transformer is measured, one control cycle runs."""
        now = self.clock.now()
        if self.online[GOES_OFFLINE] and _local_hour(now) >= 16.5:
            self.set_online(GOES_OFFLINE, False)
        heat_pumps_w = self.report()
        control = self.service.controls[POINT]
        control.record_measurement(
            now, self.other_load_w(_local_hour(now)) + heat_pumps_w
        )
        reports = await self.service.cycle()
        self.clock.advance(CYCLE)
        return next(r for r in reports if r.congestion_point_id == POINT)


def _config(tmp_path: Path, mosquitto: MosquittoBroker) -> AggregatorConfig:
    return AggregatorConfig(
        database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'aggregator.db'}"),
        mqtt=MqttConfig(host="127.0.0.1", port=mosquitto.port),
        api=ApiConfig(operator_tokens=("op-token",), reader_tokens=(READER_TOKEN,)),
        control=ControlConfig(cycle_s=CYCLE.total_seconds()),
    )


def _app(config: AggregatorConfig, clock: SteppedClock) -> web.Application:
    service = AggregatorService(
        config, clock=clock, provisioner=OpenBrokerProvisioner()
    )
    return create_app(config, service=service)


# -- the stream over HTTP ---------------------------------------------------------


@pytest.fixture
async def live(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> AsyncIterator[tuple[TestClient[Any, Any], Neighbourhood]]:
    """The app under aiohttp's test client, with the neighbourhood in an event (16:15)."""
    clock = SteppedClock(EVENT_START + timedelta(minutes=15))
    async with TestClient(
        TestServer(_app(_config(tmp_path, mosquitto), clock), host="127.0.0.1")
    ) as test_client:
        world = Neighbourhood(test_client.server.app[SERVICE], clock)
        await world.build()
        yield test_client, world


async def _next_event(
    response: Any, within_s: float = 5.0
) -> tuple[str, dict[str, Any]]:
    """The next named SSE event (comments and retry hints skipped)."""
    name, data = "message", ""
    async with asyncio.timeout(within_s):
        while True:
            line = (await response.content.readline()).decode()
            if not line:
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data += line.removeprefix("data: ")
            elif not line and data:
                return name, json.loads(data)


async def test_stream_needs_a_reader_token(
    live: tuple[TestClient[Any, Any], Neighbourhood],
) -> None:
    client, _ = live
    assert (await client.get("/api/v1/stream")).status == 401
    nope = {"Authorization": "Bearer nope"}
    assert (await client.get("/api/v1/stream", headers=nope)).status == 401
    assert (
        await client.get(f"/api/v1/congestion-points/{POINT}/history")
    ).status == 401
    async with client.get("/api/v1/stream", headers=READER) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
    unknown = await client.get(
        "/api/v1/stream", headers=READER, params={"congestion_point": "tr-x"}
    )
    assert unknown.status == 404


async def test_cycles_and_home_tables_arrive(
    live: tuple[TestClient[Any, Any], Neighbourhood], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_module, "HEARTBEAT_S", 0.2)
    client, world = live
    async with client.get(
        "/api/v1/stream", headers=READER, params={"congestion_point": POINT}
    ) as response:
        name, opening = await _next_event(response)
        assert name == "homes"  # a fresh page gets the table at once
        assert [h["id"] for h in opening["homes"]] == HOMES
        reports = [await world.step() for _ in range(3)]
        seen = [await _next_event(response) for _ in range(5)]
        assert [n for n, _ in seen] == ["cycle", "homes", "cycle", "cycle", "homes"]
        cycle = seen[0][1]
        assert cycle["time"] == format_time(reports[0].time)
        assert cycle["congestion_point_id"] == POINT
        assert cycle["cap_kind"] == "dynamic"
        assert cycle["event_id"] == "gopacs-0114-a"
        assert cycle["cap_kw"] == pytest.approx(reports[0].cap_w / 1000)
        assert cycle["measured_load_kw"] == pytest.approx(
            reports[0].measured_load_w / 1000, abs=1e-3
        )
        assert cycle["baseline_kw"] > cycle["heat_pump_load_kw"] * 0.5
        assert set(cycle["counts"]) == {
            "online",
            "curtailed",
            "paused",
            "offline",
            "opted_out",
        }
        assert cycle["counts"]["offline"] == 1  # home-21 never came online
        assert cycle["events"][0]["id"] == "gopacs-0114-a"
        row = next(h for h in seen[1][1]["homes"] if h["id"] == PAUSED)
        assert row["availability"] == "paused"
        assert set(row) >= {
            "availability",
            "electric_power_w",
            "limit_w",
            "limit_source",
            "indoor_temp_c",
            "comfort_override",
            "baseline_w",
        }
        # Quiet time: only heartbeats keep the connection (and proxies) awake.
        heartbeat = await asyncio.wait_for(response.content.readline(), 2)
        assert heartbeat == b": heartbeat\n"

    history = await (
        await client.get(f"/api/v1/congestion-points/{POINT}/history", headers=READER)
    ).json()
    assert [c["time"] for c in history["cycles"]] == [
        format_time(r.time) for r in reports
    ]
    assert history["cycle_s"] == 30
    assert history["events"][0]["id"] == "gopacs-0114-a"
    last = await (
        await client.get(
            f"/api/v1/congestion-points/{POINT}/history",
            headers=READER,
            params={"limit": "1"},
        )
    ).json()
    assert [c["time"] for c in last["cycles"]] == [format_time(reports[-1].time)]
    bad = await client.get(
        f"/api/v1/congestion-points/{POINT}/history",
        headers=READER,
        params={"limit": "-3"},
    )
    assert bad.status == 400
    assert (
        await client.get("/api/v1/congestion-points/tr-x/history", headers=READER)
    ).status == 404


async def test_a_full_queue_drops_the_oldest_frames() -> None:
    subscriber = StreamSubscriber(POINT, max_frames=4)
    for n in range(10):
        subscriber.offer(f"{n}".encode())
    assert subscriber.dropped == 6
    assert await subscriber.next_frames(0.01) == [b"6", b"7", b"8", b"9"]
    assert await subscriber.next_frames(0.01) == []  # timed out: time for a heartbeat


async def test_a_stalled_client_blocks_neither_the_loop_nor_others(
    live: tuple[TestClient[Any, Any], Neighbourhood], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_module, "CLIENT_QUEUE_FRAMES", 8)
    client, world = live
    feed = client.server.app[CYCLE_FEED]
    # A client that sends its request and then never reads a byte.
    _reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        "GET /api/v1/stream HTTP/1.1\r\n"
        f"Host: {client.host}\r\nAuthorization: Bearer {READER_TOKEN}\r\n\r\n".encode()
    )
    await writer.drain()
    # A stream whose handler is stuck in a write: nothing ever drains its queue.
    stuck = feed.subscribe(None)
    try:
        async with asyncio.timeout(5):
            while len(feed.subscribers) < 2:  # noqa: ASYNC110 - polling the app's live state
                await asyncio.sleep(0.01)
        async with client.get("/api/v1/stream", headers=READER) as response:
            await _next_event(response)  # the opening table
            started = time.monotonic()
            reports = [await world.step() for _ in range(40)]
            assert time.monotonic() - started < 10
            # 40 cycle frames and 20 home tables: the stuck queue kept the newest 8.
            assert stuck.dropped == 60 - 8
            kept = await stuck.next_frames(0)
            assert len(kept) == 8
            last = format_time(reports[-1].time)
            assert kept[-1].startswith(b"event: cycle\n")
            assert f'"time":"{last}"'.encode() in kept[-1]
            async with asyncio.timeout(10):
                while True:
                    name, data = await _next_event(response)
                    if name == "cycle" and data["time"] == last:
                        break
    finally:
        feed.unsubscribe(stuck)
        writer.close()
        await writer.wait_closed()


async def test_open_streams_end_when_the_app_stops(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    clock = SteppedClock(START)
    server = TestServer(_app(_config(tmp_path, mosquitto), clock), host="127.0.0.1")
    test_client = TestClient(server)
    await test_client.start_server()
    try:
        response = await test_client.get("/api/v1/stream", headers=READER)
        assert response.status == 200
        started = time.monotonic()
        await server.close()
        assert time.monotonic() - started < 5  # not aiohttp's 60 s shutdown timeout
        async with asyncio.timeout(5):
            while await response.content.readline():
                pass  # the stream ends cleanly: EventSource would reconnect
        response.release()
    finally:
        await test_client.close()


# -- the page in a real browser ---------------------------------------------------


@asynccontextmanager
async def _browser(tmp_path: Path) -> AsyncIterator[Page]:
    async with headless_chromium(tmp_path / "chromium-profile") as page:
        yield page


CANVAS_INK = """(() => {
  const canvas = document.querySelector('#chart canvas');
  if (!canvas || !canvas.width) return null;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const near = (i, r, g, b) =>
    Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g) + Math.abs(pixels[i + 2] - b) < 40;
  let ink = 0, load = 0, cap = 0, heatPumps = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (!pixels[i + 3]) continue;
    ink++;
    if (near(i, 31, 78, 121)) load++;
    if (near(i, 192, 57, 43)) cap++;
    if (near(i, 230, 126, 34)) heatPumps++;
  }
  return {ink, load, cap, heatPumps};
})()"""


async def test_dashboard_in_chromium(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    # No silent skip: `make setup` installs Chromium; without it this must fail.
    assert os.access(CHROMIUM, os.X_OK), (
        "chromium is missing: run make setup (apt-get install chromium)"
    )
    clock = SteppedClock(START)
    app = _app(_config(tmp_path, mosquitto), clock)
    runner = web.AppRunner(app)
    await runner.setup()
    stopped = False
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        service = app[SERVICE]
        world = Neighbourhood(service, clock)
        await world.build()
        assert await service.link.wait_connected(10)
        for _ in range(720):  # six hours at 30 s, up to 16:45 local, into the event
            report = await world.step()
        assert report.cap is not None
        assert report.curtailed_homes > 0

        async with _browser(tmp_path) as page:
            await page.send("Page.navigate", url=f"http://127.0.0.1:{port}/")
            await page.wait_for(
                "location.pathname === '/dashboard/' && "
                "document.getElementById('login')?.hidden === false"
            )
            sign_in = (
                "document.getElementById('token').value = {!r};"
                "document.getElementById('login-form').requestSubmit()"
            )
            await page.evaluate(sign_in.format("not-a-token"))
            await page.wait_for(
                "document.getElementById('login-error').textContent.includes('refused')"
            )
            # The refused request is the only thing the console may complain about.
            assert all("401 (Unauthorized)" in e for e in page.errors), page.errors
            page.errors.clear()
            await page.evaluate(sign_in.format(READER_TOKEN))
            await page.wait_for(
                "document.querySelectorAll('#homes tbody tr[data-home]').length === 24"
            )
            assert await page.wait_for(
                "document.getElementById('connection').textContent === 'Live'"
            )
            assert (
                await page.evaluate("document.getElementById('point').value") == POINT
            )
            legend = await page.evaluate(
                "[...document.querySelectorAll('.u-legend .u-series')]"
                ".map(e => e.textContent)"
            )
            assert len(legend) == 7  # time + six series
            assert any("Transformer load" in s for s in legend)
            ink = await page.wait_for(CANVAS_INK)
            assert ink["ink"] > 20_000, ink
            assert min(ink["load"], ink["cap"], ink["heatPumps"]) > 200, ink
            assert await page.evaluate(
                "document.getElementById('last-cycle').dateTime"
            ) == format_time(report.time)

            # Live: the missing home comes online and three more cycles run.
            world.set_online(NEVER_ONLINE, True)
            for _ in range(3):
                report = await world.step()
            expected = participation_counts(service.fleet.of(POINT), report.time)
            await page.wait_for(
                "document.getElementById('last-cycle').dateTime === "
                f"{format_time(report.time)!r}"
            )
            for key, value in expected.items():
                assert await page.wait_for(
                    f"document.getElementById('count-{key}').textContent === '{value}'"
                ), key
            assert expected["offline"] == 1  # home-05 dropped out during the event
            await page.wait_for(
                "document.querySelector('tr[data-home=\"home-21\"] .tag')"
                ".textContent === 'available'"
            )
            alerts = await page.evaluate("document.getElementById('alerts').innerText")
            assert "offline during gopacs-0114-a" in alerts
            assert GOES_OFFLINE in alerts
            assert "Comfort override" in alerts
            assert COMFORT_OVERRIDE in alerts
            cap_note = await page.evaluate(
                "document.getElementById('kpi-cap-note').textContent"
            )
            assert "gopacs-0114-a" in cap_note
            # The quarter hour's mean so far, as the grid operator settles it.
            assert report.isp_mean_w is not None
            assert (
                await page.evaluate("document.getElementById('kpi-isp').textContent")
                == f"{round(report.isp_mean_w / 1000, 3):.1f}"
            )
            isp_note = await page.evaluate(
                "document.getElementById('kpi-isp-note').textContent"
            )
            assert "over the cap today" in isp_note
            assert page.errors == []

            await page.screenshot(ARTIFACTS / "dashboard.png", full_page=True)

            # The page's open stream must not hold the app's shutdown.
            started = time.monotonic()
            await runner.cleanup()
            stopped = True
            assert time.monotonic() - started < 5
    finally:
        if not stopped:
            await runner.cleanup()


@asynccontextmanager
async def _served(
    tmp_path: Path, mosquitto: MosquittoBroker, clock: SteppedClock
) -> AsyncIterator[tuple[int, Neighbourhood]]:
    """The app on a real port, with the neighbourhood built and a few cycles run."""
    app = _app(_config(tmp_path, mosquitto), clock)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        world = Neighbourhood(app[SERVICE], clock)
        await world.build()
        for _ in range(5):
            await world.step()
        yield runner.addresses[0][1], world
    finally:
        await runner.cleanup()


async def _visited(page: Page) -> list[str]:
    """Every address in the tab's history."""
    history = await page.send("Page.getNavigationHistory")
    return [entry["url"] for entry in history["entries"]]


async def test_the_demo_link_signs_in_in_chromium(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    """The link `dacs demo` prints (`/?token=...`) signs in; the token leaves no trace."""
    assert os.access(CHROMIUM, os.X_OK), (
        "chromium is missing: run make setup (apt-get install chromium)"
    )
    clock = SteppedClock(EVENT_START + timedelta(minutes=15))
    async with (
        _served(tmp_path, mosquitto, clock) as (port, world),
        _browser(tmp_path) as page,
    ):
        origin = f"http://127.0.0.1:{port}"
        # A link with a token the aggregator does not know: the form, told why.
        await page.send("Page.navigate", url=f"{origin}/?token=not-a-token")
        await page.wait_for(
            "document.getElementById('login')?.hidden === false && "
            "document.getElementById('login-error').textContent"
            '.includes("link\'s token was refused")'
        )
        assert await page.evaluate("location.href") == f"{origin}/dashboard/"

        await page.send("Page.navigate", url=f"{origin}/?token={READER_TOKEN}")
        await page.wait_for(
            "document.querySelectorAll('#homes tbody tr[data-home]').length === 24"
        )
        await page.wait_for(
            "document.getElementById('connection').textContent === 'Live'"
        )
        assert (await page.evaluate("location.pathname")) == "/dashboard/"
        # Not clustered: this aggregator controls every point, no owner shown.
        assert await page.evaluate("document.getElementById('owner').hidden")
        assert "token" not in await page.evaluate("location.href")
        visited = await _visited(page)
        assert not any(READER_TOKEN in url for url in visited), visited
        # The session is not within reach of the page's scripts.
        assert await page.evaluate("document.cookie") == ""
        assert READER_TOKEN not in await page.evaluate(
            "JSON.stringify({...sessionStorage, ...localStorage})"
        )

        # The live stream runs on the cookie: a new cycle reaches the page.
        report = await world.step()
        await page.wait_for(
            "document.getElementById('last-cycle').dateTime === "
            f"{format_time(report.time)!r}"
        )
        assert page.errors == []

        # Signing out ends the session for the API as well.
        await page.evaluate("document.getElementById('sign-out').click()")
        await page.wait_for("document.getElementById('login')?.hidden === false")
        await page.wait_for(
            "fetch('../api/v1/session').then(r => r.json()).then(s => !s.signed_in)"
        )
        status = await page.evaluate(
            "fetch('../api/v1/congestion-points').then(r => r.status)"
        )
        assert status == 401
