"""FlexOffer options from plain data: how much we can offer per ISP, and at what price.

The rule (also in docs/grid-interfaces.md):

- A home can reduce by ``baseline - floor`` (W) in an ISP when it is available
  (participating, online, not paused); it can cover at most
  ``max_curtailment_minutes // 15`` of the requested ISPs.
- For each option (a fraction of the requested reduction) and each requested
  ISP in order, the cheapest homes (lowest compensation ask) that still have
  ISPs left are taken until the target is met or no home is left. Volumes are
  whole watts, never more than the target and never more than the homes give.
- The ISP's *marginal ask* is the ask of the dearest home taken. The option's
  price (EUR, for the whole option) is the sum over its ISPs of energy x
  (marginal ask + margin): the volume-weighted marginal ask plus the service
  provider's margin, per kWh. Every home is paid at least its ask; the price
  is rounded up to UFTP's four decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
import math

ISP_HOURS = 0.25
_PRICE_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True, kw_only=True)
class HomeFlex:
    """What one available home can give in any one ISP."""

    home_id: str
    reducible_w: float
    ask_eur_per_kwh: float
    max_isps: int

    def __post_init__(self) -> None:
        """Refuse values the rule cannot price."""
        for name in ("reducible_w", "ask_eur_per_kwh"):
            value = getattr(self, name)
            if math.isnan(value) or value < 0 or math.isinf(value):
                raise ValueError(f"{name} of {self.home_id} must be a number >= 0")
        if self.max_isps < 0:
            raise ValueError(f"max_isps of {self.home_id} cannot be negative")


@dataclass(frozen=True, kw_only=True)
class IspNeed:
    """The reduction the DSO asks for in one ISP (W, >= 0)."""

    isp: int
    reduction_w: int

    def __post_init__(self) -> None:
        """A need is a whole number of watts, never negative."""
        if self.reduction_w < 0:
            raise ValueError("a requested reduction cannot be negative")


@dataclass(frozen=True, kw_only=True)
class OptionIsp:
    """One ISP of an option: the reduction, the homes that give it, its marginal ask."""

    isp: int
    reduction_w: int
    marginal_ask_eur_per_kwh: float
    shares: tuple[tuple[str, int], ...]  # (home id, W)

    @property
    def energy_kwh(self) -> float:
        """Energy not drawn in this ISP."""
        return self.reduction_w / 1000 * ISP_HOURS


@dataclass(frozen=True, kw_only=True)
class OptionPlan:
    """One FlexOffer option: a reduction per ISP and its total price."""

    reference: str
    fraction: float
    isps: tuple[OptionIsp, ...]
    price_eur: Decimal

    @property
    def energy_kwh(self) -> float:
        """Total energy not drawn."""
        return sum(i.energy_kwh for i in self.isps)


def plan_options(
    needs: Sequence[IspNeed],
    homes: Sequence[HomeFlex],
    *,
    margin_eur_per_kwh: float,
    fractions: Sequence[float] = (1.0, 0.5),
) -> tuple[OptionPlan, ...]:
    """Options for ``fractions`` of the need; empty and repeated options are left out."""
    if margin_eur_per_kwh < 0 or math.isnan(margin_eur_per_kwh):
        raise ValueError("the margin cannot be negative")
    plans: list[OptionPlan] = []
    seen: set[tuple[tuple[int, int], ...]] = set()
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise ValueError("an option's fraction must lie in (0, 1]")
        isps = _fill(needs, homes, fraction)
        volumes = tuple((i.isp, i.reduction_w) for i in isps)
        if not isps or volumes in seen:
            continue
        seen.add(volumes)
        plans.append(
            OptionPlan(
                reference=f"P{round(fraction * 100)}",
                fraction=fraction,
                isps=isps,
                price_eur=_price(isps, margin_eur_per_kwh),
            )
        )
    return tuple(plans)


def _fill(
    needs: Sequence[IspNeed], homes: Sequence[HomeFlex], fraction: float
) -> tuple[OptionIsp, ...]:
    cheapest_first = sorted(
        (h for h in homes if h.max_isps > 0 and int(h.reducible_w) > 0),
        key=lambda h: (h.ask_eur_per_kwh, h.home_id),
    )
    isps_left = {h.home_id: h.max_isps for h in cheapest_first}
    result: list[OptionIsp] = []
    for need in sorted(needs, key=lambda n: n.isp):
        target = math.floor(need.reduction_w * fraction)
        shares: list[tuple[str, int]] = []
        got = 0
        marginal = 0.0
        for home in cheapest_first:
            if got >= target:
                break
            if isps_left[home.home_id] <= 0:
                continue
            share = min(int(home.reducible_w), target - got)
            shares.append((home.home_id, share))
            isps_left[home.home_id] -= 1
            got += share
            marginal = home.ask_eur_per_kwh
        if got > 0:
            result.append(
                OptionIsp(
                    isp=need.isp,
                    reduction_w=got,
                    marginal_ask_eur_per_kwh=marginal,
                    shares=tuple(shares),
                )
            )
    return tuple(result)


def _price(isps: Sequence[OptionIsp], margin_eur_per_kwh: float) -> Decimal:
    # Decimals from the asks as written (str), so 0.2 EUR/kWh prices as 0.2, not 0.2000…01.
    total = sum(
        (
            Decimal(i.reduction_w)
            / 1000
            * Decimal(str(ISP_HOURS))
            * (
                Decimal(str(i.marginal_ask_eur_per_kwh))
                + Decimal(str(margin_eur_per_kwh))
            )
            for i in isps
        ),
        Decimal(0),
    )
    return total.quantize(_PRICE_QUANTUM, rounding=ROUND_CEILING)
