"""Pipe physics: capacity and heat loss of a flow/return pipe pair by diameter.

Capacity P(D) = (π D²/4) · v(D) · ρ(T̄) · c_p · ΔT with the design velocity
v(D) = 4.7617 · D^0.3701 − 0.4834 m/s (a fit to CIBSE CP1 table 4) capped at 3 m/s, water density
at the mean temperature T̄ and c_p = 4.18 kJ/(kg K).

Heat loss per metre, by parameter ``heatnet/heat-loss-model`` (docs/decisions.md §8.2):

- ``fit`` (the default, :func:`heat_loss_w_per_m`): the pair loses
  q(D) = |T̄ − T_ground| · (0.16807 · ln D + 0.85684) W/m (a fit to EN 253 series-2 data);
- ``lambda`` (:func:`supply_line_loss_w_per_m`, the supply-line model of EnergyModelsHeat's
  DHPipe): only the supply line loses heat, q(D) = λ(D) · |T_flow − T_ground| W/m, with λ an
  overall loss factor per diameter in W/(m K) given by the user (``civil_costs``
  ``loss_factor_w_per_m_k``; geometry included, so about ten times the insulation's own λ).

For a cooling network (flow below return, or below the ground) the "loss" is the heat gained from
the ground, which the plant must also remove, so its magnitude is used in both models.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

CP_KJ_PER_KG_K = 4.18
MAX_VELOCITY_M_PER_S = 3.0
_DENSITY_C = np.arange(0.0, 101.0, 5.0)
_RELATIVE_DENSITY = np.array([
    0.9998395, 0.9999668, 0.9997026, 0.9991026, 0.9982071, 0.9970479, 0.9956502, 0.99403,
    0.99221, 0.99022, 0.98804, 0.98570, 0.98321, 0.98056, 0.97778, 0.97486, 0.97180, 0.96862,
    0.96531, 0.96189, 0.95835,
])  # fmt: skip
"""Relative density of water at 0, 5, ..., 100 °C (the Wikipedia water data page)."""


def water_density_kg_per_m3(temperature_c: ArrayLike) -> NDArray[np.float64]:
    """Density of water, interpolated linearly in 5 °C steps (flat outside 0–100 °C)."""
    return 1000.0 * np.interp(np.asarray(temperature_c, dtype=float), _DENSITY_C, _RELATIVE_DENSITY)


def design_velocity_m_per_s(diameter_mm: ArrayLike) -> NDArray[np.float64]:
    """Design flow velocity for an inner diameter, capped at 3 m/s."""
    d_m = np.asarray(diameter_mm, dtype=float) / 1000.0
    return np.minimum(4.7617 * d_m**0.3701 - 0.4834, MAX_VELOCITY_M_PER_S)


def capacity_kw(diameter_mm: ArrayLike, *, flow_c: float, return_c: float) -> NDArray[np.float64]:
    """Heat a flow/return pair of this diameter carries at its design velocity (kW)."""
    d_m = np.asarray(diameter_mm, dtype=float) / 1000.0
    mean_c = (flow_c + return_c) / 2.0
    mass_kg_per_s = (
        np.pi
        * d_m**2
        / 4.0
        * design_velocity_m_per_s(diameter_mm)
        * water_density_kg_per_m3(mean_c)
    )
    return mass_kg_per_s * CP_KJ_PER_KG_K * abs(flow_c - return_c)


def heat_loss_w_per_m(
    diameter_mm: ArrayLike, *, flow_c: float, return_c: float, ground_c: float
) -> NDArray[np.float64]:
    """Heat lost (or, cooling, gained) per metre of the flow/return pair (W/m)."""
    d_m = np.asarray(diameter_mm, dtype=float) / 1000.0
    delta_ground = abs((flow_c + return_c) / 2.0 - ground_c)
    return delta_ground * (0.16807 * np.log(d_m) + 0.85684)


def supply_line_loss_w_per_m(
    loss_factor_w_per_m_k: ArrayLike, *, flow_c: float, ground_c: float
) -> NDArray[np.float64]:
    """Heat lost (or, cooling, gained) per metre by the supply line alone: λ · |T_flow − T_ground|.

    Parameters
    ----------
    loss_factor_w_per_m_k
        The overall loss factor λ of each pipe, W/(m K) (geometry included).
    flow_c, ground_c
        Flow and ground temperatures (°C); the return line is taken to lose nothing.

    Returns
    -------
    NDArray
        The loss per metre, shaped as ``loss_factor_w_per_m_k``; e.g. λ = 0.2 W/(m K) at
        80 °C flow in 10 °C ground loses 14 W/m.
    """
    return np.asarray(loss_factor_w_per_m_k, dtype=float) * abs(flow_c - ground_c)
