"""The ``heatnet`` command's entry point: light, so that Ctrl-C while it starts is no traceback.

Importing the command line pulls in pandas, GDAL and Pyomo (about a second); an interrupt then
ends the process quietly with exit 130, as it does later.
"""

from __future__ import annotations

import sys

from heatnet.core.exits import ExitCode


def main() -> None:
    """Import the command line and run it; exit 130 quietly on an interrupt while importing."""
    try:
        from heatnet.cli.commands import main as run  # deferred on purpose
    except KeyboardInterrupt:
        sys.stderr.write("heatnet: interrupted while starting; nothing done\n")
        sys.exit(ExitCode.INTERRUPTED)
    run()
