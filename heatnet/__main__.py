"""`python -m heatnet` runs the command line."""

from heatnet.entry import main

main()
