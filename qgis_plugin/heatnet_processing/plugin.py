"""The plugin object: registers heatnet's Processing provider while the plugin is loaded."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsApplication

from heatnet_processing.provider import HeatnetProvider


class HeatnetPlugin:
    """Adds the heatnet provider to the Processing registry; removes it on unload."""

    def __init__(self, iface: Any) -> None:
        self.iface = iface
        self.provider: HeatnetProvider | None = None

    def initProcessing(self) -> None:
        """Register the provider (QGIS calls this also when only Processing is needed)."""
        if self.provider is None:
            self.provider = HeatnetProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        """No toolbar or menu of its own: the algorithms live in the Processing toolbox."""
        self.initProcessing()

    def unload(self) -> None:
        """Remove the provider (and with it the algorithms and the executable setting)."""
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
