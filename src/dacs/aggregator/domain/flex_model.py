"""The flex-model: what the homes behind a congestion point can do.

After FlexMeasures' vocabulary: baselines, safety floors, gas-only,
availability and asks, one entry per home, as a struct of NumPy arrays. Powers
in W, prices in EUR/kWh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray


class Availability(StrEnum):
    """Whether a home may be curtailed now, and if not, why."""

    AVAILABLE = "available"
    NOT_PARTICIPATING = "not_participating"
    PAUSED = "paused"
    OFFLINE = "offline"
    MAX_DURATION_REACHED = "max_duration_reached"


@dataclass(frozen=True, kw_only=True)
class HomeFlexModel:
    """What one home's hybrid heat pump can do in the coming interval."""

    home_id: str
    baseline_w: float  # forecast (or measured) heat pump power without a limit
    floor_w: float  # minimum stable power: no limit below it, except gas-only 0
    gas_only: bool  # the boiler can take over entirely (limit 0)
    ask_eur_per_kwh: float  # the resident's compensation per curtailed kWh
    step_w: float  # the device's limit resolution
    availability: Availability = Availability.AVAILABLE
    recent_curtailment_kwh: float = 0.0  # e.g. over the last 30 days
    substitution_eur_per_kwh: float = 0.0  # the boiler's gas per curtailed kWh, net


@dataclass(frozen=True, kw_only=True, eq=False)
class FlexModel:
    """What N homes can do, as a struct of arrays (one entry per home).

    The arrays are copied and made read-only on construction, so a model
    cannot change under an allocation that was computed from it.
    """

    home_ids: tuple[str, ...]
    baseline_w: NDArray[np.float64]
    floor_w: NDArray[np.float64]
    gas_only: NDArray[np.bool_]
    available: NDArray[np.bool_]
    ask_eur_per_kwh: NDArray[np.float64]
    step_w: NDArray[np.float64]
    recent_curtailment_kwh: NDArray[np.float64]
    # What a curtailed kWh costs the resident in gas, net of the electricity
    # saved (``substitution``); None: not known, 0 for every home.
    substitution_eur_per_kwh: NDArray[np.float64] | None = None
    # Added to a home's price where the event plan keeps it for a later ISP
    # (control/planner.py): it ranks after the others; never paid.
    keep_premium_eur_per_kwh: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        """Check and freeze the arrays; errors name the field and the home."""
        ids = tuple(self.home_ids)
        if not all(isinstance(home_id, str) for home_id in ids):
            raise ValueError("FlexModel.home_ids must all be strings")
        if len(set(ids)) != len(ids):
            raise ValueError("FlexModel.home_ids must be unique")
        object.__setattr__(self, "home_ids", ids)
        n = len(ids)
        for optional in ("substitution_eur_per_kwh", "keep_premium_eur_per_kwh"):
            if getattr(self, optional) is None:
                object.__setattr__(self, optional, np.zeros(n))
        for name, minimum, strict in (
            ("baseline_w", 0.0, False),
            ("floor_w", 0.0, False),
            ("ask_eur_per_kwh", 0.0, False),
            ("step_w", 0.0, True),
            ("recent_curtailment_kwh", 0.0, False),
            ("substitution_eur_per_kwh", 0.0, False),
            ("keep_premium_eur_per_kwh", 0.0, False),
        ):
            values = _float_array(name, getattr(self, name), ids)
            bad = values <= minimum if strict else values < minimum
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                relation = ">" if strict else ">="
                raise ValueError(
                    f"FlexModel.{name} must be {relation} {minimum:g};"
                    f" home {ids[first]!r} has {values[first]}"
                )
            object.__setattr__(self, name, values)
        for name in ("gas_only", "available"):
            object.__setattr__(self, name, _bool_array(name, getattr(self, name), n))

    @classmethod
    def from_records(cls, homes: Sequence[HomeFlexModel]) -> Self:
        """Build the arrays from one record per home."""
        return cls(
            home_ids=tuple(h.home_id for h in homes),
            baseline_w=np.array([h.baseline_w for h in homes], dtype=np.float64),
            floor_w=np.array([h.floor_w for h in homes], dtype=np.float64),
            gas_only=np.array([h.gas_only for h in homes], dtype=np.bool_),
            available=np.array(
                [h.availability is Availability.AVAILABLE for h in homes],
                dtype=np.bool_,
            ),
            ask_eur_per_kwh=np.array(
                [h.ask_eur_per_kwh for h in homes], dtype=np.float64
            ),
            step_w=np.array([h.step_w for h in homes], dtype=np.float64),
            recent_curtailment_kwh=np.array(
                [h.recent_curtailment_kwh for h in homes], dtype=np.float64
            ),
            substitution_eur_per_kwh=np.array(
                [h.substitution_eur_per_kwh for h in homes], dtype=np.float64
            ),
        )

    @property
    def substitution(self) -> NDArray[np.float64]:
        """The substitution cost per home (zeros when not known)."""
        values = self.substitution_eur_per_kwh
        return values if values is not None else np.zeros(self.size)

    @property
    def keep_premium(self) -> NDArray[np.float64]:
        """The event plan's premium per home (zeros where it keeps none)."""
        values = self.keep_premium_eur_per_kwh
        return values if values is not None else np.zeros(self.size)

    @property
    def size(self) -> int:
        """The number of homes."""
        return len(self.home_ids)

    @property
    def continuous_reduction_w(self) -> NDArray[np.float64]:
        """The most each home can reduce while its compressor keeps running."""
        result: NDArray[np.float64] = np.where(
            self.available, np.maximum(self.baseline_w - self.floor_w, 0.0), 0.0
        )
        return result

    @property
    def max_reduction_w(self) -> NDArray[np.float64]:
        """The most each home can reduce: its whole baseline if gas-only, else to its floor."""
        result: NDArray[np.float64] = np.where(
            self.available & self.gas_only,
            self.baseline_w,
            self.continuous_reduction_w,
        )
        return result


def _float_array(
    name: str, values: ArrayLike, ids: tuple[str, ...]
) -> NDArray[np.float64]:
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"FlexModel.{name} must be numbers: {err}") from err
    _check_shape(name, array, len(ids))
    finite = np.isfinite(array)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"FlexModel.{name} must be finite; home {ids[first]!r} has {array[first]}"
        )
    array.flags.writeable = False
    return array


def _bool_array(name: str, values: ArrayLike, n: int) -> NDArray[np.bool_]:
    array = np.array(values)
    if array.size and array.dtype != np.bool_:
        raise ValueError(f"FlexModel.{name} must be booleans, got dtype {array.dtype}")
    array = array.astype(np.bool_)
    _check_shape(name, array, n)
    array.flags.writeable = False
    return array


def _check_shape(name: str, array: NDArray[np.generic], n: int) -> None:
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(
            f"FlexModel.{name} must have one value per home ({n}), got shape {array.shape}"
        )
