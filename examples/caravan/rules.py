"""The marketing team's rule of thumb, as a scripted baseline for the Caravan campaign.

Before any model, the campaign was planned by hand: mail the customers who already insure
a car with a high contribution (the insurer's best motor customers), then the other car
owners, richest neighbourhoods first. mlscope runs this rule on every customer
(`baselines.marketing_rule` in mlscope.yaml) and scores it like a model: a candidate that
cannot beat it is not worth deploying.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def car_owners_first(customers: pd.DataFrame) -> np.ndarray:
    """A ranking score in [0, 1]: car-policy holders first, by contribution band, then
    by the neighbourhood's purchasing-power class (``MKOOPKLA``, 1-8)."""
    has_car = (customers["car_policies"] > 0).to_numpy()
    band = customers["car_contribution"].clip(0, 9).to_numpy() / 9.0
    power = (customers["MKOOPKLA"].clip(1, 8).to_numpy() - 1) / 7.0
    return 0.5 * has_car + 0.4 * band * has_car + 0.1 * power
