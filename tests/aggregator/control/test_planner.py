"""The event plan in the loop: homes with little allowance left are kept for the peak."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from dacs.aggregator.control.dispatch import DispatchSettings, current_cap_w
from dacs.aggregator.control.fleet import Fleet
from dacs.aggregator.control.loop import CongestionPointControl
from dacs.aggregator.control.planner import EventPlanner, PlanSettings
from dacs.aggregator.domain.envelope import ISP, CapacityEnvelope
from dacs.protocol import DeviceSummary, Preferences, Status

from .followers import followed_telemetry

T0 = datetime(2025, 2, 3, 16, 0, tzinfo=UTC)
POWER_W = 1500.0
OTHER_W = 10_000.0
CHEAP = [f"cheap-{i}" for i in range(4)]
DEAR = [f"dear-{i}" for i in range(4)]
CAPS = [19_500.0, 11_000.0, 11_000.0]
STEERING = PlanSettings(keep_premium_eur_per_kwh=1.0)


class Street:
    """Eight homes that follow their limits at once and report every cycle.

    The cheap homes' residents allow 36 minutes of curtailment, the dear
    homes' four hours. The event needs two homes for a quarter hour, then
    seven for half an hour: a loop that spends the cheap homes on the first
    quarter hour has too few left for the last.
    """

    def __init__(self, planner: EventPlanner) -> None:
        self.fleet = Fleet()
        self.control = CongestionPointControl(
            point_id="tr-1",
            rated_capacity_kw=40.0,
            fleet=self.fleet,
            settings=DispatchSettings(cycle_s=30),
            planner=planner,
        )
        self.now = T0
        self.seq = 0
        self.limited_since: dict[str, datetime] = {}
        self.overridden: set[str] = set()
        self.max_minutes = {h: 36 if h in CHEAP else 240 for h in (*CHEAP, *DEAR)}
        for home in (*CHEAP, *DEAR):
            self.fleet.add(home, "tr-1")
            self.fleet.apply_status(
                Status(
                    home_id=home,
                    ts=T0,
                    online=True,
                    device=DeviceSummary(
                        profile="dacs",
                        manufacturer="Sim",
                        model="HP",
                        nominal_power_w=1500,
                        safety_floor_w=700,
                        limit_step_w=100,
                        supports_gas_only=True,
                        native_watchdog=True,
                    ),
                    telemetry_interval_s=10,
                )
            )
            cheap = home in CHEAP
            self.fleet.apply_preferences(
                Preferences(
                    home_id=home,
                    ts=T0,
                    min_compensation_eur_per_kwh=0.02 if cheap else 0.6,
                    max_curtailment_minutes=self.max_minutes[home],
                )
            )
        # 22 kW uncontrolled: ISP 0 may draw 19.5 kW, ISPs 1 and 2 only
        # 11 kW, which takes every home (all eight gas-only leave 10 kW).
        self.control.put_in_force(CapacityEnvelope.day_ahead("da", T0, CAPS))
        self.report()

    def power(self, home: str) -> float:
        cap = self.cap_w(home)
        return POWER_W if cap is None else min(POWER_W, cap)

    def cap_w(self, home: str) -> float | None:
        """The limit the home follows: none once its resident's maximum is reached.

        The home's own guard lifts a limit at the maximum curtailment,
        whatever the aggregator wants (and says so in its telemetry).
        """
        cap = current_cap_w(self.fleet.homes[home], self.now)
        if cap is None:
            self.limited_since.pop(home, None)
            return None
        since = self.limited_since.setdefault(home, self.now)
        if self.now - since >= timedelta(minutes=self.max_minutes[home]):
            self.overridden.add(home)
            return None
        return cap

    def load(self) -> float:
        return OTHER_W + sum(self.power(h) for h in (*CHEAP, *DEAR))

    def report(self) -> None:
        for home in (*CHEAP, *DEAR):
            cap = self.cap_w(home)
            self.fleet.apply_telemetry(
                followed_telemetry(
                    home,
                    seq=self.seq,
                    ts=self.now,
                    power_w=self.power(home),
                    limit_w=cap,
                    comfort_override=home in self.overridden and cap is None,
                ),
                self.now,
            )
        self.seq += 1

    def run_event(self) -> tuple[list[float], set[str]]:
        """Each ISP's mean load, and the homes curtailed in the first ISP."""
        means: list[float] = []
        first_isp: set[str] = set()
        for isp in range(3):
            loads = []
            for _ in range(int(ISP / timedelta(seconds=30))):
                _, plan = self.control.cycle(
                    self.now, other_load_at=lambda _moment: OTHER_W
                )
                for message in (*plan.commands, *plan.cancels):
                    self.control.sent(message)
                self.now += timedelta(seconds=15)
                self.report()
                loads.append(self.load())
                if isp == 0 and self.now < T0 + timedelta(minutes=12):
                    first_isp |= {
                        h
                        for h in (*CHEAP, *DEAR)
                        if current_cap_w(self.fleet.homes[h], self.now) is not None
                    }
                self.now += timedelta(seconds=15)
                self.report()
                loads.append(self.load())
            means.append(sum(loads) / len(loads))
        return means, first_isp


def test_the_plan_keeps_the_cheap_homes_for_the_peak() -> None:
    street = Street(EventPlanner(STEERING))
    means, first_isp = street.run_event()
    assert first_isp, "the first ISP needs a reduction"
    assert first_isp.isdisjoint(CHEAP)
    assert all(m <= c + 1.0 for m, c in zip(means, CAPS, strict=True)), means
    assert not street.overridden  # no resident's maximum reached


def test_without_the_plan_the_cheap_homes_run_out_before_the_peak_ends() -> None:
    # The default: the plan only looks ahead, the merit order alone decides.
    street = Street(EventPlanner())
    means, first_isp = street.run_event()
    assert not first_isp.isdisjoint(CHEAP)
    assert street.overridden >= set(CHEAP)  # their guards lift the limits
    assert means[2] > CAPS[2] + 1000.0


def test_no_plan_where_every_allowance_covers_the_event() -> None:
    street = Street(EventPlanner())
    for home in CHEAP:
        street.fleet.apply_preferences(
            Preferences(
                home_id=home,
                ts=T0,
                min_compensation_eur_per_kwh=0.02,
                max_curtailment_minutes=240,
            )
        )
    report, _ = street.control.cycle(T0, other_load_at=lambda _moment: OTHER_W)
    assert report.plan is None


def test_plan_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="horizon"):
        PlanSettings(horizon=timedelta(minutes=5))
    with pytest.raises(ValueError, match="premium"):
        PlanSettings(keep_premium_eur_per_kwh=float("nan"))


def test_on_an_executor_cycles_use_the_plan_once_it_is_made() -> None:
    with ThreadPoolExecutor(max_workers=1) as executor:
        street = Street(EventPlanner(STEERING, executor=executor))
        first, _ = street.control.cycle(T0, other_load_at=lambda _moment: OTHER_W)
        assert first.plan is None  # the cycle did not wait for the plan
        executor.submit(lambda: None).result()  # the plan is made by now
        later, plan = street.control.cycle(
            T0 + timedelta(seconds=30), other_load_at=lambda _moment: OTHER_W
        )
    assert later.plan is not None
    assert later.plan.kept_for_later == len(CHEAP)
    # The first cycle, without a plan, took the cheap homes; now the dear.
    assert plan.commands
    assert all(c.home_id in DEAR for c in plan.commands)


def test_a_failing_plan_leaves_the_loop_to_the_merit_order(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_problem: object) -> None:
        raise RuntimeError("solver gone")

    monkeypatch.setattr("dacs.aggregator.control.planner.plan_event", broken)
    with ThreadPoolExecutor(max_workers=1) as executor:
        street = Street(EventPlanner(executor=executor))
        street.control.cycle(T0, other_load_at=lambda _moment: OTHER_W)
        executor.submit(lambda: None).result()
        report, plan = street.control.cycle(
            T0 + timedelta(seconds=30), other_load_at=lambda _moment: OTHER_W
        )
    assert report.plan is None
    assert plan.commands  # the loop still curtails
    assert "the event plan failed" in caplog.text
