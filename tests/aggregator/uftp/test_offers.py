"""The pure offer rule: volumes from the homes' flexibility, prices from their asks."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings, strategies as st
import pytest

from dacs.aggregator.uftp.offers import HomeFlex, IspNeed, plan_options


def _homes(
    *asks: float, reducible_w: float = 1500, max_isps: int = 8
) -> list[HomeFlex]:
    return [
        HomeFlex(
            home_id=f"h{i}",
            reducible_w=reducible_w,
            ask_eur_per_kwh=a,
            max_isps=max_isps,
        )
        for i, a in enumerate(asks)
    ]


def test_cheapest_homes_first_and_marginal_price() -> None:
    [full, half] = plan_options(
        [IspNeed(isp=65, reduction_w=4000)],
        _homes(0.3, 0.1, 0.2, 0.4),
        margin_eur_per_kwh=0.02,
    )
    [isp] = full.isps
    assert isp.reduction_w == 4000
    assert isp.shares == (("h1", 1500), ("h2", 1500), ("h0", 1000))
    assert isp.marginal_ask_eur_per_kwh == 0.3
    assert full.price_eur == Decimal("0.3200")  # 1 kWh x (0.30 + 0.02)
    assert half.reference == "P50"
    assert half.price_eur == Decimal("0.1100")  # 0.5 kWh x (0.20 + 0.02)


def test_offer_is_capped_by_what_homes_give() -> None:
    [only] = plan_options(
        [IspNeed(isp=1, reduction_w=10_000)], _homes(0.1, 0.2), margin_eur_per_kwh=0.0
    )
    assert (
        only.isps[0].reduction_w == 3000
    )  # 100 % and 50 % would both be 3 kW: one option


def test_max_curtailment_limits_the_isps_a_home_covers() -> None:
    needs = [IspNeed(isp=n, reduction_w=1500) for n in (10, 11, 12)]
    [option, _] = plan_options(
        needs, _homes(0.1, 0.5, max_isps=2), margin_eur_per_kwh=0.0
    )
    assert [i.shares[0][0] for i in option.isps] == ["h0", "h0", "h1"]
    assert option.isps[2].marginal_ask_eur_per_kwh == 0.5


def test_no_flexibility_gives_no_option() -> None:
    assert (
        plan_options([IspNeed(isp=1, reduction_w=1000)], [], margin_eur_per_kwh=0.02)
        == ()
    )
    assert plan_options([], _homes(0.1), margin_eur_per_kwh=0.02) == ()


@pytest.mark.parametrize(
    "bad",
    [
        {"reducible_w": -1.0},
        {"ask_eur_per_kwh": float("nan")},
        {"max_isps": -1},
    ],
)
def test_bad_home_data_is_refused(bad: dict[str, float]) -> None:
    values = {
        "home_id": "h",
        "reducible_w": 1.0,
        "ask_eur_per_kwh": 0.1,
        "max_isps": 1,
    } | bad
    with pytest.raises(ValueError, match="h"):
        HomeFlex(**values)  # type: ignore[arg-type]


def test_bad_margin_or_fraction_is_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        plan_options([], [], margin_eur_per_kwh=-0.1)
    with pytest.raises(ValueError, match="fraction"):
        plan_options(
            [IspNeed(isp=1, reduction_w=1)],
            _homes(0.1),
            margin_eur_per_kwh=0,
            fractions=(1.5,),
        )


homes_strategy = st.lists(
    st.builds(
        HomeFlex,
        home_id=st.uuids().map(str),
        reducible_w=st.floats(min_value=0, max_value=5000),
        ask_eur_per_kwh=st.floats(min_value=0, max_value=2),
        max_isps=st.integers(min_value=0, max_value=12),
    ),
    max_size=12,
    unique_by=lambda h: h.home_id,
)
needs_strategy = st.lists(
    st.builds(IspNeed, isp=st.integers(1, 96), reduction_w=st.integers(0, 50_000)),
    max_size=10,
    unique_by=lambda n: n.isp,
)


@settings(max_examples=300, deadline=None)
@given(
    needs=needs_strategy,
    homes=homes_strategy,
    margin=st.floats(min_value=0, max_value=0.5),
)
def test_never_more_than_available_never_below_the_asks(
    needs: list[IspNeed], homes: list[HomeFlex], margin: float
) -> None:
    by_id = {h.home_id: h for h in homes}
    needed = {n.isp: n.reduction_w for n in needs}
    for option in plan_options(needs, homes, margin_eur_per_kwh=margin):
        used: dict[str, int] = {}
        cost = 0.0
        for isp in option.isps:
            assert 0 < isp.reduction_w <= needed[isp.isp]
            assert isp.reduction_w == sum(w for _, w in isp.shares)
            for home_id, watts in isp.shares:
                home = by_id[home_id]
                assert 0 < watts <= home.reducible_w
                assert home.ask_eur_per_kwh <= isp.marginal_ask_eur_per_kwh
                used[home_id] = used.get(home_id, 0) + 1
                cost += watts / 1000 * 0.25 * home.ask_eur_per_kwh
            assert isp.reduction_w <= sum(
                h.reducible_w for h in homes if h.max_isps > 0
            )
        assert all(count <= by_id[h].max_isps for h, count in used.items())
        assert float(option.price_eur) >= cost + option.energy_kwh * margin - 1e-9
