"""heatnet's Processing provider: the four algorithms and the "heatnet executable" setting."""

from __future__ import annotations

from pathlib import Path

from processing.core.ProcessingConfig import ProcessingConfig, Setting
from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from heatnet_processing import command

PROVIDER_ID = "heatnet"
EXECUTABLE_SETTING = "HEATNET_EXECUTABLE"


def executable() -> str:
    """The configured heatnet executable (the setting), else ``heatnet`` on PATH."""
    value = ProcessingConfig.getSetting(EXECUTABLE_SETTING)
    return str(value).strip() if value and str(value).strip() else command.default_executable()


class HeatnetProvider(QgsProcessingProvider):
    """The ``heatnet`` provider (Processing > Toolbox > heatnet)."""

    def id(self) -> str:
        """Algorithm ids are ``heatnet:<name>``."""
        return PROVIDER_ID

    def name(self) -> str:
        """The provider's name in the toolbox and in Options > Providers."""
        return "heatnet"

    def longName(self) -> str:
        """Shown as the provider's description."""
        return "heatnet: district-heating network design"

    def icon(self) -> QIcon:
        """The provider's icon (QGIS's generic Processing icon when the plugin has none)."""
        path = Path(__file__).with_name("icon.svg")
        return QIcon(str(path)) if path.is_file() else QgsProcessingProvider.icon(self)

    def load(self) -> bool:
        """Add the executable setting to Processing's options, then the algorithms."""
        ProcessingConfig.settingIcons[self.name()] = self.icon()
        ProcessingConfig.addSetting(
            Setting(
                self.name(),
                EXECUTABLE_SETTING,
                "heatnet executable (e.g. /path/to/venv/bin/heatnet; empty: heatnet on PATH)",
                command.default_executable(),
                valuetype=Setting.FILE,
            )
        )
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        """Remove the setting again."""
        ProcessingConfig.removeSetting(EXECUTABLE_SETTING)

    def loadAlgorithms(self) -> None:
        """One instance of each algorithm."""
        from heatnet_processing.algorithms import ALGORITHMS, create_loader

        create_loader()  # in the main thread, where the provider loads

        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
