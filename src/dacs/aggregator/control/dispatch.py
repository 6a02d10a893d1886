"""From per-home limits to commands and cancels, with a staggered release."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import itertools
import math

import numpy as np

from dacs.aggregator.domain.allocation import Allocation
from dacs.aggregator.domain.envelope import CapInForce
from dacs.aggregator.domain.rebound import release_schedule
from dacs.aggregator.domain.substitution import EnergyPrices
from dacs.protocol import Cancel, Command, CommandReason, PowerInterval

from .fleet import HomeView


@dataclass(frozen=True, kw_only=True)
class DispatchSettings:
    """How eagerly limits become commands."""

    cycle_s: float = 30.0
    command_margin_s: float = 300.0  # a command expires this long after its envelope
    envelope_max_s: float = 3600.0
    min_change_w: float = 100.0  # smaller changes of a home's limit are not re-sent
    # A released home first draws more than its baseline: its house cooled
    # while it was limited. The release plans for this much extra.
    rebound_share: float = 0.3
    # How far one transformer measurement moves the other load's forecast
    # error (1: all the way). Below 1 it damps the swing the loop's own delay
    # makes (control/other_load.py).
    other_load_gain: float = 0.5
    # The residents' tariffs: what a curtailed kWh costs in gas ranks the homes.
    prices: EnergyPrices = field(default_factory=EnergyPrices)


@dataclass(frozen=True, kw_only=True)
class DispatchPlan:
    """What to send this cycle."""

    commands: tuple[Command, ...]
    cancels: tuple[Cancel, ...]
    held_for_rebound: tuple[str, ...]  # homes whose release waits for headroom


_counter = itertools.count()


def _command_id(home_id: str, stamp: str) -> str:
    return f"c-{stamp}-{home_id}-{next(_counter)}"[:64]


def current_cap_w(view: HomeView, now: datetime) -> float | None:
    """The cap the home's command in force sets now (None: no command limits it)."""
    command = view.command
    if command is None or now >= command.ends_at:
        return None
    return command.limit_at(now)


def plan_dispatch(
    homes: Sequence[HomeView],
    allocation: Allocation,
    *,
    now: datetime,
    cap: CapInForce | None,
    cap_w: float,
    forecast_load_w: float,
    settings: DispatchSettings,
    epoch: int | None = None,
) -> DispatchPlan:
    """Commands for homes whose limit appears or changes; cancels that fit the headroom.

    Releases are staggered: lifting a limit adds (baseline - limit) back to the
    load, so only as many homes are released this cycle as the headroom under
    ``cap_w`` allows; the rest stay limited and are released in later cycles.
    """
    # Formatted once: strftime per command was most of a 10,000-home plan.
    stamp = f"{now:%Y%m%dT%H%M%S}"
    if [h.home_id for h in homes] != list(allocation.home_ids):
        raise ValueError(
            "homes and allocation must list the same homes in the same order"
        )
    commands: list[Command] = []
    releasing: list[int] = []
    reason = (
        CommandReason.EMERGENCY
        if cap is not None and cap.emergency
        else CommandReason.CONGESTION
    )
    # One envelope to the event's end (or an hour): the loop re-allocates every
    # cycle anyway and re-sends only when a home's limit really changes.
    horizon = now + timedelta(seconds=settings.envelope_max_s)
    if cap is not None and cap.ends is not None:
        horizon = min(horizon, cap.ends)
    horizon = max(horizon, now + timedelta(seconds=max(60.0, 2 * settings.cycle_s)))
    for index, view in enumerate(homes):
        desired = float(allocation.limits_w[index])
        current = current_cap_w(view, now)
        if math.isinf(desired):
            if current is not None:
                releasing.append(index)
            continue
        renew_by = now + timedelta(seconds=2 * settings.cycle_s)
        unchanged = (
            current is not None
            and abs(current - desired) < settings.min_change_w
            and ((current == 0) == (desired == 0))
        )
        if unchanged and view.command is not None and view.command.ends_at > renew_by:
            continue
        duration = max(60, round((horizon - now).total_seconds()))
        commands.append(
            Command(
                home_id=view.home_id,
                command_id=_command_id(view.home_id, stamp),
                issued_at=now,
                expires_at=now
                + timedelta(seconds=duration + settings.command_margin_s),
                reason=reason,
                envelope=(
                    PowerInterval(start=now, duration_s=duration, max_power_w=desired),
                ),
                epoch=epoch,
            )
        )
    cancels, held = _staggered_release(
        homes,
        releasing,
        now=now,
        cap_w=cap_w,
        forecast_load_w=forecast_load_w,
        rebound_share=settings.rebound_share,
        epoch=epoch,
    )
    return DispatchPlan(
        commands=tuple(commands), cancels=cancels, held_for_rebound=held
    )


def _staggered_release(
    homes: Sequence[HomeView],
    releasing: list[int],
    *,
    now: datetime,
    cap_w: float,
    forecast_load_w: float,
    rebound_share: float,
    epoch: int | None,
) -> tuple[tuple[Cancel, ...], tuple[str, ...]]:
    if not releasing:
        return (), ()
    limits = np.array(
        [current_cap_w(homes[i], now) or 0.0 for i in releasing], dtype=np.float64
    )
    baselines = np.array(
        [
            max(homes[i].rebound_w(rebound_share), current_cap_w(homes[i], now) or 0.0)
            for i in releasing
        ],
        dtype=np.float64,
    )
    headroom = max(0.0, cap_w - forecast_load_w)
    plan = release_schedule(limits, baselines, headroom_w=headroom)
    first_offset = plan.groups[0].offset_s if plan.groups else None
    cancels: list[Cancel] = []
    held: list[str] = []
    for position, index in enumerate(releasing):
        view = homes[index]
        offset = float(plan.release_offset_s[position])
        command = view.command
        if command is not None and (
            math.isnan(offset) or (first_offset is not None and offset == first_offset)
        ):
            cancels.append(
                Cancel(
                    home_id=view.home_id,
                    command_id=command.command_id,
                    issued_at=now,
                    epoch=epoch,
                )
            )
        else:
            held.append(view.home_id)
    return tuple(cancels), tuple(held)
