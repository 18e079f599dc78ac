"""Unit conventions shared by every stage (docs/decisions.md §2)."""

from __future__ import annotations

HOURS_PER_YEAR = 8760.0
"""Hours in a year, everywhere (the reference mixes 8760 and 8766)."""
