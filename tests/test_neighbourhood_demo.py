"""The main job: a (small) congestion evening, with and without control."""

from __future__ import annotations

import asyncio
import csv
from datetime import timedelta
import os
from pathlib import Path
import signal
import sys

from aiohttp import ClientSession, CookieJar
import pytest
from yarl import URL

from dacs.testbed.neighbourhood.counterfactual import run_uncontrolled
from dacs.testbed.neighbourhood.grid_signal import GridSignal
from dacs.testbed.neighbourhood.live import event_profile, run_live
from dacs.testbed.neighbourhood.scenario import Scenario
from dacs.testbed.neighbourhood.summary import format_alerts, format_summary, summarise
from dacs.testbed.servers import MosquittoBroker


async def test_congestion_evening(mosquitto: MosquittoBroker) -> None:
    scenario = Scenario(
        homes=8,
        duration=timedelta(hours=2),
        event_start=timedelta(minutes=30),
        event_duration=timedelta(hours=1),
        cap_share=0.8,
    )
    uncontrolled = run_uncontrolled(scenario)
    peak = float(uncontrolled.total_kw.max())
    rated, cap = round(peak * 1.05, 1), round(peak * 0.8, 1)
    urls: list[str] = []
    sign_ins: list[asyncio.Task[list[tuple[str, int]]]] = []

    def ready(url: str) -> None:
        urls.append(url)
        sign_ins.append(asyncio.create_task(_follow_the_link(url)))

    live = await run_live(
        scenario,
        broker_host="127.0.0.1",
        broker_port=mosquitto.port,
        speed=240,
        cap_kw=cap,
        rated_kw=rated,
        on_ready=ready,
    )
    assert urls
    assert urls[0].startswith("http://127.0.0.1:")
    # The printed link signs a browser in (#15) and leaves the token behind.
    assert await sign_ins[0] == [
        ("/dashboard/", 200),
        ("/api/v1/congestion-points", 200),
    ]
    summary = summarise(
        scenario=scenario,
        uncontrolled=uncontrolled,
        controlled=live.trace,
        curtailed_minutes=live.curtailed_minutes,
        event=event_profile(scenario, cap, rated),
        rated_kw=rated,
        commands_sent=live.commands_sent,
        shortfall_minutes=live.shortfall_minutes,
    )
    text = format_summary(summary)
    assert "peak transformer load" in text
    # Control works: far fewer minutes over the limit, heat pumps curtailed, boilers took over.
    assert summary.minutes_over_uncontrolled >= 30
    assert summary.minutes_over_controlled <= summary.minutes_over_uncontrolled / 3
    assert summary.excess_kwh_controlled <= summary.excess_kwh_uncontrolled / 3
    assert summary.worst_excess_controlled_kw < summary.worst_excess_uncontrolled_kw
    assert "energy over the limit" in text
    assert summary.homes_curtailed >= 1
    assert summary.commands_sent >= 1
    assert summary.extra_gas_m3 > 0
    assert summary.lowest_indoor_controlled_c > 17.5  # comfort held
    # As the grid operator settles it, through the real broker path: every
    # ISP of the event under its cap; with eight homes one compressor is
    # 4-7 % of the cap, so a minute may be over by about that much.
    assert summary.compliance_uncontrolled.isps_over >= 3
    assert summary.compliance_controlled.isps_over == 0
    assert summary.compliance_controlled.worst_minute_excess_share <= 0.08
    # Every simulated home followed what it acknowledged.
    assert "not_following_limit" not in live.alerts
    assert format_alerts(live.alerts).startswith("alerts raised by the aggregator: ")


async def _follow_the_link(url: str) -> list[tuple[str, int]]:
    """Open the dashboard link as a browser would, then read the API with its cookie."""
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as browser:
        async with browser.get(url) as page:
            seen = [
                (
                    page.url.path
                    + (f"?{page.url.query_string}" if page.url.query_string else ""),
                    page.status,
                )
            ]
        api = URL(url).with_path("/api/v1/congestion-points").with_query(None)
        async with browser.get(api) as points:
            seen.append((points.url.path, points.status))
    return seen


def demo_folders(temporary: Path) -> list[Path]:
    """The demo's temporary folders left in ``temporary``."""
    return list(temporary.glob("dacs-demo-*"))


async def test_make_demo_runs_on_the_embedded_broker_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    """`dacs demo` where Mosquitto is missing; Ctrl-C mid-run stops everything cleanly.

    Neither run leaves its temporary folder (the AGR's key, the database) behind.
    """
    environment = os.environ | {"TMPDIR": str(tmp_path)}
    command = [
        sys.executable,
        "-m",
        "dacs",
        "demo",
        "--homes",
        "6",
        "--hours",
        "2",
        "--speed",
        "600",
        "--broker",
        "embedded",
        "--port",
        "0",
        "--out",
        str(tmp_path / "evening"),
    ]
    finished = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    out, err = await asyncio.wait_for(finished.communicate(), 180)
    assert finished.returncode == 0, err.decode()
    text = out.decode()
    assert "Dashboard: http://127.0.0.1:" in text
    assert "peak transformer load" in text
    assert "commands sent:" in text
    assert "over the limit" in text
    assert "simulated clock: worst lag" in text  # whether the run kept time
    assert b"Traceback" not in err
    assert demo_folders(tmp_path) == []
    with (tmp_path / "evening" / "evening.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 120  # two hours, minute by minute
    assert all(float(row["with_control_kw"]) > 0 for row in rows)
    assert (tmp_path / "evening" / "evening.png").read_bytes()[
        :8
    ] == b"\x89PNG\r\n\x1a\n"

    interrupted = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    assert interrupted.stdout is not None
    async with asyncio.timeout(120):
        while b"Dashboard:" not in await interrupted.stdout.readline():
            pass
    interrupted.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(interrupted.communicate(), 60)
    assert interrupted.returncode == 130
    assert b"stopped" in err
    assert b"Traceback" not in err
    assert demo_folders(tmp_path) == []


@pytest.mark.parametrize(
    ("signal", "vtn_strict", "vtn_version"),
    [
        (GridSignal.OPENADR, False, "3.1.0"),
        (GridSignal.OPENADR, True, "3.1.0"),
        (GridSignal.OPENADR, True, "3.0.1"),
        (GridSignal.UFTP, False, "3.1.0"),
    ],
    ids=["openadr", "openadr-strict-vtn", "openadr-301-strict-vtn", "uftp"],
)
async def test_evening_from_a_grid_signal_is_settled_to_every_home(
    mosquitto: MosquittoBroker, signal: GridSignal, vtn_strict: bool, vtn_version: str
) -> None:
    """A grid event goes in, homes curtail, the flexibility is settled, statements arrive."""
    scenario = Scenario(
        homes=5,
        duration=timedelta(hours=3),
        event_start=timedelta(hours=1),
        event_duration=timedelta(hours=1),
        cap_share=0.75,
    )
    uncontrolled = run_uncontrolled(scenario)
    peak = float(uncontrolled.total_kw.max())
    rated, cap = round(peak * 1.05, 1), round(peak * 0.75, 1)
    live = await run_live(
        scenario,
        broker_host="127.0.0.1",
        broker_port=mosquitto.port,
        speed=600,
        cap_kw=cap,
        rated_kw=rated,
        grid_signal=signal,
        expected_kw=[peak] * 4,
        vtn_strict=vtn_strict,
        vtn_version=vtn_version,
    )
    # The aggregator's own adapter put the grid operator's cap in force.
    assert live.event is not None
    begin, end = scenario.event_window
    assert live.event.start >= begin - timedelta(minutes=15)
    assert live.event.end <= end + timedelta(minutes=15)
    assert live.commands_sent >= 1
    assert live.grid_note is not None
    if signal is GridSignal.UFTP:
        assert "ordered 1 offer" in live.grid_note
        assert "FlexSettlementResponse: Accepted" in live.grid_note
    else:
        assert "capacity limit" in live.grid_note
    settled = live.settlement
    assert settled is not None
    assert settled.delivered_kwh > 0
    assert settled.statements_published == scenario.homes
    # Every resident's statement reached their home over the broker.
    assert live.statements_received == scenario.homes


async def test_s2_homes_curtail_like_the_others(mosquitto: MosquittoBroker) -> None:
    """`dacs demo --s2-homes N`: heat pumps over S2 take their share of the curtailment."""
    scenario = Scenario(
        homes=6,
        duration=timedelta(hours=2),
        event_start=timedelta(minutes=30),
        event_duration=timedelta(hours=1),
        cap_share=0.7,
    )
    uncontrolled = run_uncontrolled(scenario)
    peak = float(uncontrolled.total_kw.max())
    rated, cap = round(peak * 1.05, 1), round(peak * 0.7, 1)
    live = await run_live(
        scenario,
        broker_host="127.0.0.1",
        broker_port=mosquitto.port,
        speed=240,
        cap_kw=cap,
        rated_kw=rated,
        s2_homes=3,
    )
    over_s2, over_modbus = live.curtailed_minutes[3:], live.curtailed_minutes[:3]
    assert sum(1 for minutes in over_s2 if minutes > 0) >= 2
    assert sum(over_s2) > 0.3 * sum(over_modbus)
    summary = summarise(
        scenario=scenario,
        uncontrolled=uncontrolled,
        controlled=live.trace,
        curtailed_minutes=live.curtailed_minutes,
        event=event_profile(scenario, cap, rated),
        rated_kw=rated,
        commands_sent=live.commands_sent,
        shortfall_minutes=live.shortfall_minutes,
    )
    assert summary.minutes_over_controlled <= summary.minutes_over_uncontrolled / 3


async def test_more_s2_homes_than_homes_is_refused() -> None:
    with pytest.raises(ValueError, match="s2_homes must lie between 0 and 2"):
        await run_live(
            Scenario(
                homes=2,
                duration=timedelta(hours=1),
                event_start=timedelta(minutes=15),
                event_duration=timedelta(minutes=30),
            ),
            broker_host="127.0.0.1",
            broker_port=1,
            speed=240,
            cap_kw=1.0,
            rated_kw=2.0,
            s2_homes=3,
        )
