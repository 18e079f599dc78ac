"""A quick constructive design to start the first MIP from."""

from __future__ import annotations

from typing import Any

from heatnet.model.data import ModelData


def seed_design(data: ModelData) -> dict[str, dict[Any, float]] | None:
    """No seed yet."""
    return None
