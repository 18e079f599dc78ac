"""The ``heatnet`` command line, a thin shell over :mod:`heatnet.pipeline`.

:mod:`~heatnet.cli.commands` holds the commands and :mod:`~heatnet.cli.console` what a person
sees while a run works. Importing the command line is light: pandas, GDAL, Pyomo and Dask are
imported by the command that needs them, so ``heatnet --help`` is quick.
"""

from heatnet.cli.commands import main

__all__ = ["main"]
