"""The dashboard's live feed: Server-Sent Events per control cycle, and recent history.

``GET /api/v1/stream`` sends ``event: cycle`` once per control cycle and
congestion point, ``event: homes`` (the per-home table) every few cycles and a
heartbeat comment every 15 s. ``GET /api/v1/congestion-points/{id}/history``
returns the cycles kept in memory so a page opened now can draw the past.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from datetime import datetime
import json
import logging
import math
from typing import Any

from aiohttp import web

from dacs.aggregator.control.fleet import HomeView
from dacs.aggregator.control.loop import CycleReport
from dacs.aggregator.control.planner import PlanView
from dacs.aggregator.registry.errors import NotFoundError
from dacs.aggregator.service import AggregatorService
from dacs.protocol import format_time

from .app_keys import SERVICE, point_control
from .auth import Role, requires
from .views import event_json, participation_counts

_LOGGER = logging.getLogger(__name__)

HISTORY_CYCLES = 2880  # 24 h at the default 30 s cycle
CLIENT_QUEUE_FRAMES = 256
HEARTBEAT_S = 15.0
HOMES_EVERY_CYCLES = 2
# A client whose socket takes longer than this to accept a frame is cut off,
# so a stalled reader cannot hold a handler (and the app's shutdown) forever.
WRITE_TIMEOUT_S = 30.0
# EventSource reconnects after this many milliseconds when the stream drops.
_RETRY_MS = 5000


def _kw(watts: float | None) -> float | None:
    """Kilowatts for JSON: rounded, and None where the number is not finite."""
    if watts is None or not math.isfinite(watts):
        return None
    return round(watts / 1000, 3)


def cycle_json(
    report: CycleReport, *, rated_capacity_kw: float, homes: Sequence[HomeView]
) -> dict[str, Any]:
    """One cycle as the dashboard draws it (the live frame adds the events in force)."""
    baseline_w = sum(v.baseline_w for v in homes if v.baseline_w is not None)
    return {
        "time": format_time(report.time),
        "congestion_point_id": report.congestion_point_id,
        "rated_capacity_kw": rated_capacity_kw,
        "cap_kw": _kw(report.cap_w),
        "cap_kind": report.cap.kind.value if report.cap else "rated",
        "event_id": report.cap.envelope_id if report.cap else None,
        "measured_load_kw": _kw(report.measured_load_w),
        "forecast_load_kw": _kw(report.forecast_load_w),
        "heat_pump_load_kw": _kw(report.heat_pump_load_w),
        "other_load_kw": _kw(report.other_load_w),
        "baseline_kw": _kw(baseline_w),
        "required_reduction_kw": _kw(report.required_reduction_w),
        "shortfall_kw": _kw(report.shortfall_w),
        "target_kw": _kw(report.target.target_w) if report.target else None,
        "margin_kw": _kw(report.target.margin_w) if report.target else None,
        "isp_mean_kw": _kw(report.isp_mean_w),
        "isps_over_cap": report.isps_over_cap,
        "worst_isp_excess_kw": _kw(report.worst_isp_excess_w),
        "plan": _plan_json(report.plan),
        "curtailed_homes": report.curtailed_homes,
        "commands": report.commands,
        "cancels": report.cancels,
        "counts": participation_counts(homes, report.time),
    }


def _plan_json(plan: PlanView | None) -> dict[str, Any] | None:
    """The event plan's outlook (None where no resident's allowance binds)."""
    if plan is None:
        return None
    return {
        "made_at": format_time(plan.made_at),
        "isps": plan.isps,
        "kept_for_later": plan.kept_for_later,
        "shortfall_kw": _kw(plan.shortfall_w),
        "short_from": format_time(plan.short_from) if plan.short_from else None,
    }


def home_row(view: HomeView, now: datetime) -> dict[str, Any]:
    """One row of the dashboard's home table (keys as in ``/api/v1/homes``)."""
    telemetry = view.telemetry
    return {
        "id": view.home_id,
        "availability": view.availability(now).value,
        "online": view.reachable(now),
        "curtailed": view.limited(),
        "electric_power_w": telemetry.electric_power_w if telemetry else None,
        "limit_w": telemetry.limit_w if telemetry else None,
        "limit_source": telemetry.limit_source.value if telemetry else None,
        "indoor_temp_c": telemetry.indoor_temp_c if telemetry else None,
        "comfort_override": telemetry.comfort_override if telemetry else False,
        "baseline_w": None if view.baseline_w is None else round(view.baseline_w, 1),
        "participation": view.preferences.participation.value
        if view.preferences
        else None,
    }


def _json(data: dict[str, Any]) -> str:
    # allow_nan=False: JSON.parse in the browser rejects NaN, so fail here, loudly.
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def _frame(event: str, text: str) -> bytes:
    return f"event: {event}\ndata: {text}\n\n".encode()


class StreamSubscriber:
    """One open stream: a bounded queue of encoded frames that drops the oldest."""

    def __init__(self, point_id: str | None, *, max_frames: int) -> None:
        """Listen to one congestion point, or to all with ``None``."""
        self.point_id = point_id
        self.dropped = 0
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self.writing = False
        self._frames: deque[bytes] = deque(maxlen=max_frames)
        self._ready = asyncio.Event()

    def wants(self, point_id: str) -> bool:
        """True when this stream follows ``point_id``."""
        return self.point_id is None or self.point_id == point_id

    def offer(self, frame: bytes) -> None:
        """Queue a frame without waiting; a full queue loses its oldest frame."""
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(frame)
        self._ready.set()

    def close(self) -> None:
        """End the stream; a write stuck on a stalled client is aborted."""
        self.closed = True
        self._ready.set()
        if self.writing and self.transport is not None:
            self.transport.abort()

    async def next_frames(self, timeout_s: float) -> list[bytes]:
        """The frames queued, waiting up to ``timeout_s`` for one ([] on timeout)."""
        if not self._frames and not self.closed:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._ready.wait()
            except TimeoutError:
                pass  # nothing happened: the caller sends a heartbeat
        self._ready.clear()
        frames = list(self._frames)
        self._frames.clear()
        return frames


class CycleFeed:
    """Turns cycle reports into history and frames for every open stream."""

    def __init__(
        self,
        service: AggregatorService,
        *,
        history_cycles: int = HISTORY_CYCLES,
        homes_every: int = HOMES_EVERY_CYCLES,
    ) -> None:
        """Keep ``history_cycles`` per point; send the home table every ``homes_every`` cycles."""
        if history_cycles < 1 or homes_every < 1:
            raise ValueError("history_cycles and homes_every must be at least 1")
        self._service = service
        self._history_cycles = history_cycles
        self._homes_every = homes_every
        # Encoded JSON: about 0.6 kB a cycle, 1.7 MB a point for 24 h at 30 s.
        self._history: dict[str, deque[str]] = {}
        self._cycles: dict[str, int] = {}
        self._subscribers: set[StreamSubscriber] = set()
        self.closed = False

    @property
    def subscribers(self) -> frozenset[StreamSubscriber]:
        """The streams open now."""
        return frozenset(self._subscribers)

    def on_cycle(self, report: CycleReport) -> None:
        """The service's cycle listener: record and fan out, never raise or wait."""
        if self.closed:
            return
        try:
            self._record(report)
        except Exception:
            # The control loop calls this; a dashboard bug must not stop it.
            _LOGGER.exception(
                "could not publish cycle of %s to the dashboard",
                report.congestion_point_id,
            )

    def _record(self, report: CycleReport) -> None:
        point_id = report.congestion_point_id
        control = self._service.controls.get(point_id)
        homes = self._service.fleet.of(point_id)
        cycle = cycle_json(
            report,
            rated_capacity_kw=control.rated_capacity_kw if control else 0.0,
            homes=homes,
        )
        history = self._history.get(point_id)
        if history is None:
            history = self._history[point_id] = deque(maxlen=self._history_cycles)
        # The history leaves out the events: the endpoint sends those once.
        history.append(_json(cycle))
        count = self._cycles.get(point_id, 0)
        self._cycles[point_id] = count + 1
        events = control.envelopes if control else []
        live = cycle | {"events": [event_json(e) for e in events]}
        frames = [_frame("cycle", _json(live))]
        if count % self._homes_every == 0:
            frames.append(self.homes_frame(point_id, homes, report.time))
        for subscriber in self._subscribers:
            if subscriber.wants(point_id):
                for frame in frames:
                    subscriber.offer(frame)

    def homes_frame(
        self, point_id: str, homes: Sequence[HomeView], now: datetime
    ) -> bytes:
        """An ``event: homes`` frame with the table of one congestion point."""
        return _frame(
            "homes",
            _json(
                {
                    "time": format_time(now),
                    "congestion_point_id": point_id,
                    "homes": [home_row(v, now) for v in homes],
                }
            ),
        )

    def history(self, point_id: str, limit: int | None = None) -> list[str]:
        """The last ``limit`` cycles of a congestion point as JSON texts, oldest first."""
        cycles = list(self._history.get(point_id, ()))
        if limit is None:
            return cycles
        return cycles[-limit:] if limit > 0 else []

    def subscribe(self, point_id: str | None) -> StreamSubscriber:
        """Open a stream."""
        subscriber = StreamSubscriber(point_id, max_frames=CLIENT_QUEUE_FRAMES)
        self._subscribers.add(subscriber)
        if self.closed:
            subscriber.close()  # opened while the app stops: end at once
        return subscriber

    def unsubscribe(self, subscriber: StreamSubscriber) -> None:
        """Forget a stream that ended."""
        self._subscribers.discard(subscriber)

    def close(self) -> None:
        """End every open stream (the app is stopping)."""
        self.closed = True
        for subscriber in list(self._subscribers):
            subscriber.close()


CYCLE_FEED: web.AppKey[CycleFeed] = web.AppKey("cycle_feed", CycleFeed)


async def _send(
    response: web.StreamResponse, subscriber: StreamSubscriber, data: bytes
) -> None:
    subscriber.writing = True
    try:
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            await response.write(data)
    finally:
        subscriber.writing = False


@requires(Role.READER)
async def stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: ``cycle`` and ``homes`` events, optionally for one point."""
    service = request.app[SERVICE]
    feed = request.app[CYCLE_FEED]
    point_id = request.query.get("congestion_point") or None
    if point_id is not None and point_id not in service.controls:
        raise NotFoundError(f"unknown congestion point {point_id!r}")
    if feed.closed:
        raise web.HTTPServiceUnavailable(text="the aggregator is stopping")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache, no-store",
            # Reverse proxies (nginx, Home Assistant ingress) must not buffer the stream.
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    subscriber = feed.subscribe(point_id)
    subscriber.transport = request.transport
    try:
        # A page that has just opened gets its table now, not a few cycles later.
        now = service.clock.now()
        opening = [f"retry: {_RETRY_MS}\n\n".encode()] + [
            feed.homes_frame(p, service.fleet.of(p), now)
            for p in sorted(service.controls)
            if subscriber.wants(p)
        ]
        await _send(response, subscriber, b"".join(opening))
        reported = 0
        while not subscriber.closed:
            frames = await subscriber.next_frames(HEARTBEAT_S)
            if subscriber.dropped > reported:
                _LOGGER.debug(
                    "slow dashboard client %s lost %d frames",
                    request.remote,
                    subscriber.dropped - reported,
                )
                reported = subscriber.dropped
            if frames:
                await _send(response, subscriber, b"".join(frames))
            elif not subscriber.closed:
                await _send(response, subscriber, b": heartbeat\n\n")
    except (ConnectionError, TimeoutError):
        # The client went away or stopped reading; EventSource reconnects by itself.
        _LOGGER.debug("dashboard stream to %s ended", request.remote)
    finally:
        feed.unsubscribe(subscriber)
    return response


@requires(Role.READER)
async def history(request: web.Request) -> web.Response:
    """The cycles kept in memory for one congestion point, oldest first, and its events."""
    service = request.app[SERVICE]
    point_id = request.match_info["point_id"]
    control = point_control(request)
    raw = request.query.get("limit")
    limit: int | None = None
    if raw is not None:
        if not raw.isdigit():
            raise ValueError("'limit' must be a whole number of cycles")
        limit = int(raw)
    head = _json(
        {
            "congestion_point_id": point_id,
            "rated_capacity_kw": control.rated_capacity_kw,
            "cycle_s": control.settings.cycle_s,
            "now": format_time(service.clock.now()),
            "events": [event_json(e) for e in control.envelopes],
        }
    )
    # The cycles are kept encoded; splice them in rather than decode 2880 documents.
    cycles = ",".join(request.app[CYCLE_FEED].history(point_id, limit))
    return web.Response(
        text=f'{head[:-1]},"cycles":[{cycles}]}}', content_type="application/json"
    )


def add_stream(app: web.Application, feed: CycleFeed | None = None) -> CycleFeed:
    """Register the stream and history routes and feed them from the app's service."""
    service = app[SERVICE]
    feed = feed or CycleFeed(service)
    app[CYCLE_FEED] = feed
    service.add_cycle_listener(feed.on_cycle)

    async def end_streams(_app: web.Application) -> None:
        # on_shutdown runs before aiohttp waits for handlers: open streams must end
        # here or the server waits out its shutdown timeout.
        feed.close()

    app.on_shutdown.append(end_streams)
    app.router.add_get("/api/v1/stream", stream)
    app.router.add_get("/api/v1/congestion-points/{point_id}/history", history)
    return feed
