"""Leases on congestion points in a real PostgreSQL: take-over, epochs, fencing, rebalancing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.ownership.keeper import OwnershipKeeper
from dacs.aggregator.ownership.share import fair_share, surplus
from dacs.aggregator.storage.commands import CommandLedger
from dacs.aggregator.storage.database import create_engine, migrate, session_factory
from dacs.aggregator.storage.leases import Fence, FencedOutError, LeaseStore
from dacs.aggregator.storage.tables import CommandRow, CongestionPointRow
from dacs.protocol import Command, CommandReason, PowerInterval

POINTS = ("cp-a", "cp-b", "cp-c", "cp-d")
T0 = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


@pytest.fixture
async def pg(postgres_dsn: str) -> AsyncIterator[AsyncEngine]:
    """A migrated PostgreSQL database with four congestion points."""
    engine = create_engine(postgres_dsn)
    await migrate(engine)
    async with engine.begin() as connection:
        await connection.execute(
            insert(CongestionPointRow),
            [
                {
                    "id": p,
                    "name": p,
                    "rated_capacity_kw": 400.0,
                    "grid_operator": "test",
                    "ean": None,
                    "created_at": T0,
                }
                for p in POINTS
            ],
        )
    yield engine
    await engine.dispose()


class FakeMonotonic:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _keeper(
    engine: AsyncEngine, name: str, clock: FakeMonotonic, lease_s: float = 0.6
) -> OwnershipKeeper:
    return OwnershipKeeper(
        LeaseStore(engine, instance_id=name, lease_s=lease_s),
        lease_s=lease_s,
        margin_s=lease_s / 4,
        monotonic=clock,
    )


def _command(home_id: str, epoch: int) -> Command:
    return Command(
        home_id=home_id,
        command_id=f"c-{home_id}-{epoch}",
        issued_at=T0,
        expires_at=T0 + timedelta(hours=1),
        reason=CommandReason.CONGESTION,
        envelope=(PowerInterval(start=T0, duration_s=1800, max_power_w=900.0),),
        epoch=epoch,
    )


def test_fair_share_and_surplus() -> None:
    assert fair_share(4, 1) == 4
    assert fair_share(4, 3) == 2
    assert fair_share(0, 2) == 0
    assert fair_share(5, 0) == 5
    assert surplus({"b", "a", "c"}, 2) == ["c"]
    assert surplus({"a"}, 3) == []
    with pytest.raises(ValueError, match="negative"):
        fair_share(-1, 2)


def test_the_store_needs_postgresql() -> None:
    engine = create_engine("sqlite:///:memory:")
    with pytest.raises(ValueError, match="PostgreSQL"):
        LeaseStore(engine, instance_id="x", lease_s=1.0)


async def test_one_instance_takes_every_point_in_epoch_one(pg: AsyncEngine) -> None:
    clock = FakeMonotonic()
    keeper = _keeper(pg, "a", clock)
    change = await keeper.step(POINTS)
    assert sorted(g.congestion_point_id for g in change.gained) == list(POINTS)
    assert {g.epoch for g in change.gained} == {1}
    assert keeper.owned == set(POINTS)
    assert all(keeper.may_command(p) for p in POINTS)
    # Renewed, not taken again: the epoch stays.
    again = await keeper.step(POINTS)
    assert again.gained == ()
    assert again.lost == ()
    assert keeper.epoch("cp-a") == 1


async def test_an_expired_lease_is_taken_over_in_the_next_epoch(
    pg: AsyncEngine,
) -> None:
    clock_a, clock_b = FakeMonotonic(), FakeMonotonic()
    a = _keeper(pg, "a", clock_a, lease_s=0.5)
    b = _keeper(pg, "b", clock_b, lease_s=0.5)
    await a.step(POINTS)
    # B joins while A is alive: both count, nothing is free yet.
    assert (await b.step(POINTS)).gained == ()
    # A stops renewing (killed); after its lease the database frees the rows.
    await _sleep_past(0.6)
    change = await b.step(POINTS)
    assert sorted(g.congestion_point_id for g in change.gained) == list(POINTS)
    assert {g.epoch for g in change.gained} == {2}
    assert b.counters.takeovers == 4
    # A comes back: its renewal finds nothing; it has lost every point.
    lost = await a.step(POINTS)
    assert sorted(lost.lost) == list(POINTS)
    assert a.owned == set()
    holders = {h.congestion_point_id: h for h in await b.store.holders()}
    assert {h.owner for h in holders.values()} == {"b"}
    assert all(h.live for h in holders.values())


async def test_two_instances_racing_for_free_points_never_share_one(
    pg: AsyncEngine,
) -> None:
    a = LeaseStore(pg, instance_id="a", lease_s=30)
    b = LeaseStore(pg, instance_id="b", lease_s=30)
    await a.ensure(POINTS)
    import asyncio

    taken_a, taken_b = await asyncio.gather(a.acquire(4), b.acquire(4))
    ids_a = {t.congestion_point_id for t in taken_a}
    ids_b = {t.congestion_point_id for t in taken_b}
    assert ids_a.isdisjoint(ids_b)
    assert ids_a | ids_b == set(POINTS)


async def test_a_joining_instance_gets_its_fair_share(pg: AsyncEngine) -> None:
    clock = FakeMonotonic()
    a = _keeper(pg, "a", clock, lease_s=30)
    b = _keeper(pg, "b", clock, lease_s=30)
    await a.step(POINTS)
    assert len(a.owned) == 4
    await b.step(POINTS)  # registers; A still holds all four
    change = await a.step(POINTS)  # A sees two instances: lets go of two
    assert sorted(change.lost) == ["cp-c", "cp-d"]
    assert a.counters.released == 2
    gained = await b.step(POINTS)
    assert sorted(g.congestion_point_id for g in gained.gained) == ["cp-c", "cp-d"]
    assert {g.epoch for g in gained.gained} == {2}
    assert a.owned == {"cp-a", "cp-b"}
    # Stable from now on.
    assert await a.step(POINTS) == await b.step(POINTS)


async def test_a_cut_off_instance_stops_commanding_before_its_lease_ends(
    pg: AsyncEngine,
) -> None:
    clock = FakeMonotonic()
    keeper = _keeper(pg, "a", clock, lease_s=40)
    await keeper.step(POINTS)
    await pg.dispose()
    broken = create_engine("postgresql://postgres@127.0.0.1:1/none")
    keeper.store = LeaseStore(broken, instance_id="a", lease_s=40)
    clock.now += 20
    change = await keeper.step(POINTS)  # cannot renew
    assert change.lost == ()
    assert not keeper.database_reachable
    assert keeper.counters.renewal_failures == 1
    assert keeper.may_command("cp-a")  # 20 s of 40 gone, margin 10
    clock.now += 10.5  # inside the margin: silent although the lease runs
    assert not keeper.may_command("cp-a")
    clock.now += 10  # past the lease: forgotten at the next step
    assert sorted((await keeper.step(POINTS)).lost) == list(POINTS)
    await broken.dispose()


async def test_the_database_refuses_commands_of_an_older_epoch(pg: AsyncEngine) -> None:
    ledger = CommandLedger(pg, session_factory(pg))
    a = LeaseStore(pg, instance_id="a", lease_s=0.3)
    b = LeaseStore(pg, instance_id="b", lease_s=30)
    await a.ensure(POINTS)
    (lease_a,) = [x for x in await a.acquire(4) if x.congestion_point_id == "cp-a"] or [
        None
    ]
    assert lease_a is not None
    fence_a = Fence(congestion_point_id="cp-a", owner="a", epoch=lease_a.epoch)
    await ledger.store([_command("h-1", lease_a.epoch)], [], fence=fence_a)
    await _sleep_past(0.4)
    taken = {x.congestion_point_id: x for x in await b.acquire(4)}
    assert taken["cp-a"].epoch == lease_a.epoch + 1
    with pytest.raises(FencedOutError, match="epoch"):
        await ledger.store([_command("h-2", lease_a.epoch)], [], fence=fence_a)
    fence_b = Fence(congestion_point_id="cp-a", owner="b", epoch=taken["cp-a"].epoch)
    await ledger.store([_command("h-2", taken["cp-a"].epoch)], [], fence=fence_b)
    async with pg.connect() as connection:
        stored = (
            await connection.execute(select(CommandRow.home_id, CommandRow.epoch))
        ).all()
    assert sorted(stored) == [("h-1", 1), ("h-2", 2)]
    # An expired lease no one took is refused too.
    await _sleep_past(0.0)
    stale = Fence(congestion_point_id="cp-b", owner="a", epoch=1)
    await _sleep_past(0.4)
    with pytest.raises(FencedOutError):
        await ledger.store([_command("h-3", 1)], [], fence=stale)


async def test_commands_come_back_with_their_epoch(pg: AsyncEngine) -> None:
    ledger = CommandLedger(pg, session_factory(pg))
    await ledger.store([_command("h-9", 7)], [])
    ((command, answered),) = await ledger.in_force(T0 + timedelta(minutes=1))
    assert command.epoch == 7
    assert not answered


async def _sleep_past(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
