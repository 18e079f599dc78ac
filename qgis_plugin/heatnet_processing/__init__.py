"""heatnet's QGIS Processing plugin: QGIS calls :func:`classFactory` to load it."""

from __future__ import annotations

from typing import Any


def classFactory(iface: Any) -> Any:
    """The plugin object QGIS keeps while the plugin is loaded."""
    from heatnet_processing.plugin import HeatnetPlugin

    return HeatnetPlugin(iface)
