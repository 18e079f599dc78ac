"""The pipe catalogue: diameters from ``civil_costs`` with capacity, heat loss and cost per metre.

Capacity and loss depend only on the diameter and the temperatures; cost depends on the diameter
and the dig type (civil cost id). Each civil cost id's costs are interpolated linearly over its own
diameters (flat beyond its ends), so ids whose tables list different diameters still price every
catalogue diameter, and an edge over several dig types costs the length-weighted mix.

The loss follows parameter ``heatnet/heat-loss-model`` (:mod:`heatnet.economics.physics`):
``fit`` computes it from the diameter; ``lambda`` from the diameter's loss factor λ, column
``loss_factor_w_per_m_k`` of ``civil_costs``. A diameter is one loss whatever the dig type, so
every ``civil_costs`` row of a diameter must give the same λ (validation checks it,
:func:`heatnet.inputs.rules.check_loss_factors`); a diameter not in the table (an existing pipe)
takes λ interpolated linearly between the catalogue's diameters, flat beyond its ends, as costs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from heatnet.economics.physics import capacity_kw, heat_loss_w_per_m, supply_line_loss_w_per_m
from heatnet.inputs.params import Parameters


@dataclass(frozen=True, slots=True)
class PipeCatalogue:
    """Every diameter a pipe can have, smallest first.

    Attributes
    ----------
    diameter_mm, capacity_kw, loss_w_per_m
        Per diameter: size, heat carried at design velocity, heat lost per metre of pair.
    cost_m
        ¤ per metre installed, by civil cost id (rows) and diameter (columns).
    flow_c, return_c, ground_c
        Temperatures the catalogue was computed for.
    heat_loss_model
        How ``loss_w_per_m`` was computed (parameter ``heatnet/heat-loss-model``): ``fit`` from
        the diameter, ``lambda`` from each diameter's loss factor (then a diameter not in the
        table loses what its neighbours' losses give, interpolated linearly).
    """

    diameter_mm: NDArray[np.float64]
    capacity_kw: NDArray[np.float64]
    loss_w_per_m: NDArray[np.float64]
    cost_m: pd.DataFrame
    flow_c: float
    return_c: float
    ground_c: float
    heat_loss_model: Literal["fit", "lambda"] = "fit"

    @property
    def max_capacity_kw(self) -> float:
        """The largest pipe's capacity."""
        return float(self.capacity_kw[-1])

    def diameter_for(self, kw: ArrayLike) -> NDArray[np.float64]:
        """Smallest diameter whose capacity is at least ``kw`` (the largest if none is)."""
        index = np.searchsorted(self.capacity_kw, np.asarray(kw, dtype=float) - 1e-9, side="left")
        return self.diameter_mm[np.minimum(index, len(self.diameter_mm) - 1)]

    def capacity_of(self, diameter_mm: ArrayLike) -> NDArray[np.float64]:
        """Capacity of any diameter (also one not in the table, e.g. an existing pipe)."""
        return capacity_kw(diameter_mm, flow_c=self.flow_c, return_c=self.return_c)

    def loss_at_diameter(self, diameter_mm: ArrayLike) -> NDArray[np.float64]:
        """Heat loss per metre of any diameter (W/m).

        ``lambda``: interpolated linearly in diameter between the catalogue's losses (λ is given
        per listed diameter only), flat beyond the smallest and the largest.
        """
        if self.heat_loss_model == "lambda":
            return np.interp(
                np.asarray(diameter_mm, dtype=float), self.diameter_mm, self.loss_w_per_m
            )
        return heat_loss_w_per_m(
            diameter_mm, flow_c=self.flow_c, return_c=self.return_c, ground_c=self.ground_c
        )

    def loss_at_kw(self, kw: ArrayLike) -> NDArray[np.float64]:
        """Heat loss per metre at a load, interpolated linearly in kW (flat beyond the table)."""
        return np.interp(np.asarray(kw, dtype=float), self.capacity_kw, self.loss_w_per_m)

    def cost_per_m(self, civil_ids: ArrayLike, diameter_mm: ArrayLike) -> NDArray[np.float64]:
        """¤/m of pipes of any diameter (also one not listed, e.g. existing) by civil cost id."""
        civil = np.asarray(civil_ids, dtype=np.int64)
        diameter = np.asarray(diameter_mm, dtype=float)
        out = np.empty(len(civil))
        columns = self.cost_m.columns.to_numpy(dtype=float)
        for c in np.unique(civil):
            rows = civil == c
            out[rows] = np.interp(
                diameter[rows], columns, self.cost_m.loc[int(c)].to_numpy(dtype=float)
            )
        return out

    def civil_shares(self, civil_lengths_m: Sequence[Mapping[int, float]]) -> NDArray[np.float64]:
        """Share of each edge's length in each civil cost id (edges × ids, rows sum to 1 or 0).

        Parameters
        ----------
        civil_lengths_m
            Per edge, metres in each civil cost id; an edge of zero length gets no share.
        """
        ids = {c: i for i, c in enumerate(self.cost_m.index)}
        weights = np.zeros((len(civil_lengths_m), len(ids)))
        for row, lengths in enumerate(civil_lengths_m):
            for civil, metres in lengths.items():
                weights[row, ids[int(civil)]] += metres
        totals = weights.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, weights / totals, 0.0)

    def mixed_cost_m(self, civil_lengths_m: Sequence[Mapping[int, float]]) -> NDArray[np.float64]:
        """¤/m of every diameter for edges over several dig types (edges × diameters)."""
        return self.civil_shares(civil_lengths_m) @ self.cost_m.to_numpy(dtype=float)


def build_catalogue(civil_costs: pd.DataFrame, params: Parameters) -> PipeCatalogue:
    """The catalogue for a ``civil_costs`` table at the parameters' temperatures.

    Parameters
    ----------
    civil_costs
        Validated table (``diameter_mm``, ``civil_cost_id``, ``cost_m``; with the ``lambda``
        loss model also ``loss_factor_w_per_m_k``).
    params
        Flow, return and ground temperatures and the heat-loss model.

    Returns
    -------
    PipeCatalogue
        Diameters sorted ascending (duplicates across civil ids merged).

    Raises
    ------
    ValueError
        With the ``lambda`` model, when a diameter has no loss factor or its rows disagree
        (validated inputs never do).
    """
    diameters = np.unique(civil_costs["diameter_mm"].to_numpy(dtype=float))
    table = {}
    for civil, rows in civil_costs.groupby("civil_cost_id", sort=True):
        rows = rows.sort_values("diameter_mm")
        table[int(str(civil))] = np.interp(
            diameters,
            rows["diameter_mm"].to_numpy(dtype=float),
            rows["cost_m"].to_numpy(dtype=float),
        )
    flow, back, ground = (
        params.flow_temperature_c,
        params.return_temperature_c,
        params.ground_temperature_c,
    )
    if params.heat_loss_model == "lambda":
        factors = loss_factors(civil_costs, diameters)
        loss = supply_line_loss_w_per_m(factors, flow_c=flow, ground_c=ground)
    else:
        loss = heat_loss_w_per_m(diameters, flow_c=flow, return_c=back, ground_c=ground)
    return PipeCatalogue(
        diameter_mm=diameters,
        capacity_kw=capacity_kw(diameters, flow_c=flow, return_c=back),
        loss_w_per_m=loss,
        cost_m=pd.DataFrame.from_dict(table, orient="index", columns=diameters),
        flow_c=flow,
        return_c=back,
        ground_c=ground,
        heat_loss_model=params.heat_loss_model,
    )


LOSS_FACTOR = "loss_factor_w_per_m_k"
"""The ``civil_costs`` column of each diameter's overall loss factor λ, W/(m K)."""


def loss_factors(civil_costs: pd.DataFrame, diameters: NDArray[np.float64]) -> NDArray[np.float64]:
    """The loss factor λ of each diameter: the one value all its ``civil_costs`` rows give.

    Raises
    ------
    ValueError
        If the column is missing, a row of a diameter leaves it empty or two rows disagree.
    """
    if LOSS_FACTOR not in civil_costs.columns:
        raise ValueError(f"heat-loss model lambda: civil_costs has no column {LOSS_FACTOR}")
    values = civil_costs[LOSS_FACTOR].to_numpy(dtype=float, na_value=np.nan)
    rows = civil_costs["diameter_mm"].to_numpy(dtype=float)
    out = np.empty(len(diameters))
    for j, diameter in enumerate(diameters):
        given = values[rows == diameter]
        if np.isnan(given).any():
            raise ValueError(
                f"heat-loss model lambda: diameter {diameter:g} mm has no {LOSS_FACTOR}"
            )
        if given.min() != given.max():
            raise ValueError(
                f"heat-loss model lambda: the rows of diameter {diameter:g} mm disagree on "
                f"{LOSS_FACTOR} ({given.min():g} to {given.max():g})"
            )
        out[j] = given[0]
    return out
