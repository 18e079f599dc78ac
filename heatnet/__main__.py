"""`python -m heatnet` runs the command line."""

from heatnet.cli import main

main()
