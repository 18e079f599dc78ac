"""Pictures of a heatnet output: a PNG sheet or a self-contained HTML page to show a client.

:func:`render_report` reads the GeoPackage ``heatnet run`` writes (layers ``buildings``,
``paths`` and ``supplies``; tables ``cashflow`` and ``solution_summary``, and ``parameters`` and
``infeasible_reasons`` when present) and draws three things:

- a map with no basemap: network pipes coloured and widened by ``diameter_mm``, connectors thin
  and dashed, unused paths faint grey, connected buildings in a strong colour, the others light
  grey, anything ``unreachable`` outlined in red, supplies as large markers (used or not), a
  scale bar in metres and a grid-north arrow;
- the headline figures of :func:`headline`;
- the cashflow: nominal values per year stacked by cost kind (costs are negative, revenue
  positive, as in the ``cashflow`` table) and the cumulative discounted NPV as a line.

The NPV line discounts year y by (1 + r)^−y with r = ``finance/npv-rate`` from the output's
``parameters`` table. **When that table or row is missing or blank, r = 0** (the line is then
undiscounted, and its legend says so): this package reads only the output file and does not
apply heatnet's parameter defaults (0.03). ``heatnet run`` writes every parameter it used, so r
is only missing from files written by something else.

Drawing uses :class:`matplotlib.figure.Figure` with the Agg canvas and never pyplot, so it leaves
no global state and is safe to call from several threads.

Modules: :mod:`~heatnet.picture.read` reads and checks the output and formats the figures,
:mod:`~heatnet.picture.draw` draws the map, the figures panel and the cashflow chart on given
axes, and :mod:`~heatnet.picture.render` lays them out and writes the PNG or HTML file.
"""

from heatnet.picture.render import headline, render_report

__all__ = ["headline", "render_report"]
