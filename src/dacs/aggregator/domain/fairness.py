"""The fairness rule: recent curtailment makes a home dearer to pick again.

The allocator ranks homes by an *effective price* rather than by the
resident's ask alone::

    effective_price = ask + fairness_weight * recent_curtailment / mean_recent

``mean_recent`` is the mean recent curtailment (kWh) over the homes that are
available now. A home that carried an average share of recent events costs
``fairness_weight`` EUR/kWh more than one that carried none; twice the
average, twice that. Normalising by the population's own mean keeps the
weight's meaning stable however long the history window is and however busy
the season has been, and it is undefined only when nobody was curtailed, in
which case the rule has nothing to correct and adds nothing.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

DEFAULT_FAIRNESS_WEIGHT = 0.05
"""EUR/kWh added for a home with the population's mean recent curtailment.

Of the order of a quarter of a typical ask (0.05-0.40 EUR/kWh): large enough
to rotate curtailment among homes whose asks are close, small enough that a
home asking several times more is still not preferred for fairness alone.
"""


_NO_HISTORY_KWH = 1e-9


def effective_price_eur_per_kwh(
    ask_eur_per_kwh: NDArray[np.float64],
    recent_curtailment_kwh: NDArray[np.float64],
    available: NDArray[np.bool_],
    *,
    fairness_weight: float = DEFAULT_FAIRNESS_WEIGHT,
) -> NDArray[np.float64]:
    """The price per curtailed kWh the allocator minimises, per home."""
    if not math.isfinite(fairness_weight) or fairness_weight < 0:
        raise ValueError(
            f"fairness_weight must be a finite number >= 0 EUR/kWh, got {fairness_weight}"
        )
    if fairness_weight == 0 or not available.any():
        return ask_eur_per_kwh.astype(np.float64, copy=True)
    mean_recent = float(recent_curtailment_kwh[available].mean())
    # Below a microwatt-hour there is no history to be fair about, and a
    # subnormal mean would turn weight / mean into infinity (and 0 * inf into NaN).
    if not mean_recent > _NO_HISTORY_KWH:
        return ask_eur_per_kwh.astype(np.float64, copy=True)
    result: NDArray[np.float64] = ask_eur_per_kwh + fairness_weight * (
        recent_curtailment_kwh / mean_recent
    )
    return result
