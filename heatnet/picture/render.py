"""Lay out the pictures and write them: a PNG sheet or a self-contained HTML page."""

from __future__ import annotations

import base64
import html
import io
import logging
import time
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure

from heatnet.core.atomic import atomic_output
from heatnet.core.errors import UsageError
from heatnet.picture.dispatch import dispatch_note, draw_dispatch, has_dispatch
from heatnet.picture.draw import draw_cashflow, draw_figures, draw_map, has_cashflow
from heatnet.picture.read import NPV_RATE_KEY, OutputData, headline_figures, provenance, read_output
from heatnet.picture.read import text as cell_text
from heatnet.picture.read import title as map_title
from heatnet.picture.webmap import map_components, map_resources

log = logging.getLogger(__name__)

DPI = 150
SUFFIXES = (".png", ".html")


def render_report(
    gpkg: Path,
    output: Path,
    *,
    overwrite: bool = False,
    tiles: str | None = None,
    attribution: str = "",
) -> Path:
    """Draw a heatnet output as a PNG sheet or a self-contained HTML page.

    Parameters
    ----------
    gpkg
        The output GeoPackage written by ``heatnet run``; it is only read.
    output
        Where to write: ``.png`` gives one landscape sheet (2400 × 1425 px: map, headline
        figures, cashflow chart; 2400 × 2325 px with the dispatch chart below them when the
        output has a dispatch); ``.html`` gives one page that works offline (headline table,
        reasons, map and charts embedded as base64 PNG, no external resources).
    overwrite
        Whether an existing ``output`` may be replaced.
    tiles, attribution
        HTML only: a background map for the interactive map, as an XYZ tile URL template
        (``https://.../{z}/{x}/{y}.png``) and the credit its provider asks for. The page then
        loads those tiles from that server; without it the page needs nothing outside itself.

    Returns
    -------
    Path
        ``output``, written atomically (an interrupted call leaves no partial file).

    Raises
    ------
    InputError
        If the suffix is neither ``.png`` nor ``.html``, ``gpkg`` is not a readable heatnet
        output (the message names the missing layers, tables or columns), ``output`` exists and
        ``overwrite`` is false (:class:`heatnet.core.atomic.OutputExistsError`), or ``output`` is
        ``gpkg``.
    """
    gpkg, output = Path(gpkg), Path(output)
    kind = output.suffix.lower()
    if kind not in SUFFIXES:
        raise UsageError(f"cannot write a report to {output.name}: use a .png or .html file name")
    started = time.perf_counter()
    data = read_output(gpkg)
    with atomic_output(output, overwrite=overwrite, protect=(gpkg,)) as temporary:
        if kind == ".png":
            temporary.write_bytes(_png(_sheet_figure(data)))
        else:
            page = _html_page(data, tiles=tiles, attribution=attribution)
            temporary.write_text(page, encoding="utf-8")
    log.info("wrote %s in %.2f s", output, time.perf_counter() - started)
    return output


def headline(gpkg: Path) -> dict[str, str]:
    """The headline figures of a heatnet output, formatted for people.

    Parameters
    ----------
    gpkg
        The output GeoPackage written by ``heatnet run``.

    Returns
    -------
    dict of str to str
        In this order: State ("(no design)" appended when nothing is in the network), NPV
        (``network_npv``), Objective, Proven gap, Buildings connected ("n of N (p%)"),
        Connections, Network length (km), Heat delivered (MWh/yr), Losses (MWh/yr, and as a
        share of the heat supplied = delivered + losses) and Runtime. Unknown figures (null or
        NaN, as in an infeasible run) are "—".

    Raises
    ------
    InputError
        If ``gpkg`` is not a readable heatnet output.
    """
    return headline_figures(read_output(Path(gpkg)))


def _sheet_figure(data: OutputData) -> Figure:
    """One landscape sheet: map and legend on the left, figures and cashflow on the right.

    With a dispatch, the dispatch chart runs across the sheet below them.
    """
    dispatch = has_dispatch(data)
    fig = Figure(
        figsize=(16, 15.5 if dispatch else 9.5), dpi=DPI, layout="constrained", facecolor="white"
    )
    top: Figure | SubFigure = fig
    if dispatch:
        rows = fig.add_gridspec(2, 1, height_ratios=(9.5, 6.0))
        top = fig.add_subfigure(rows[0])
        draw_dispatch(fig.add_subfigure(rows[1]), data)
    outer = top.add_gridspec(1, 2, width_ratios=(1.55, 1))
    left = outer[0].subgridspec(2, 1, height_ratios=(1, 0.12))
    right = outer[1].subgridspec(2, 1, height_ratios=(0.8, 1.2))
    draw_map(top.add_subplot(left[0]), top.add_subplot(left[1]), data)
    # without cash flows the chart panel is empty, so the reasons get its room
    chart = has_cashflow(data)
    draw_figures(top.add_subplot(right[0]), data, with_reasons=chart)
    draw_cashflow(top.add_subplot(right[1]), data, with_reasons=not chart)
    return fig


def _cashflow_figure(data: OutputData) -> Figure:
    fig = Figure(figsize=(11, 5), dpi=DPI, layout="constrained", facecolor="white")
    ax = fig.add_subplot()
    draw_cashflow(ax, data, with_reasons=False)
    ax.set_title("", loc="left")  # the page's own heading names it
    return fig


def _dispatch_figure(data: OutputData) -> Figure:
    fig = Figure(figsize=(16, 6.5), dpi=DPI, layout="constrained", facecolor="white")
    draw_dispatch(fig, data)
    return fig


def _png(fig: Figure) -> bytes:
    # an Agg canvas for this figure only: no pyplot, no process-wide backend switch
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": "heatnet"})
    return buffer.getvalue()


def _base64_png(fig: Figure) -> str:
    return base64.b64encode(_png(fig)).decode("ascii")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #222; }}
h1 {{ margin-bottom: 0.2rem; }}
.meta, .note {{ color: #666; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
th, td {{ text-align: left; vertical-align: top; padding: 0.3rem 1.2rem 0.3rem 0;
          border-bottom: 1px solid #e3e3e3; }}
th {{ color: #555; font-weight: normal; }}
.figures td {{ font-weight: bold; }}
.reasons th {{ color: #b00020; font-weight: bold; }}
img {{ max-width: 100%; height: auto; border: 1px solid #ddd; }}
.map {{ border: 1px solid #ddd; }}
</style>
{map_resources}
</head>
<body>
<h1>{title}</h1>
<p class="meta">{meta}</p>
<h2>Headline figures</h2>
<table class="figures">
{figures}
</table>
{reasons}
<h2>Map</h2>
<p class="note">Drag to pan, scroll to zoom, hover a pipe, building or supply for its figures;
click a legend entry to hide that layer. Coordinates: the output's own ({crs}).</p>
<div class="map">
{map_div}
</div>
{map_script}
<h2>Cashflow</h2>
{cashflow}
{dispatch}
</body>
</html>
"""


def _html_page(data: OutputData, *, tiles: str | None = None, attribution: str = "") -> str:
    """One offline page: the map's code and every image inline (tiles only when asked for)."""
    esc = html.escape
    map_script, map_div = map_components(data, tiles=tiles, attribution=attribution)
    figures = "\n".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in headline_figures(data).items()
    )
    reasons = ""
    if not data.reasons.empty:
        heading = "Infeasible reasons" if data.has_design else "Why there is no design"
        pairs = zip(data.reasons["reason_type"], data.reasons["message"], strict=True)
        rows = "\n".join(
            f"<tr><th>{esc(cell_text(kind))}</th><td>{esc(cell_text(message))}</td></tr>"
            for kind, message in pairs
        )
        reasons = f'<h2>{esc(heading)}</h2>\n<table class="reasons">\n{rows}\n</table>'
    return _PAGE.format(
        title=esc(map_title(data)),
        meta=esc(provenance(data)),
        figures=figures,
        reasons=reasons,
        map_resources=map_resources(),
        map_div=map_div,
        map_script=map_script,
        crs=esc("Web Mercator, over the background tiles" if tiles else _crs_name(data)),
        cashflow=_html_cashflow(data),
        dispatch=_html_dispatch(data),
    )


def _crs_name(data: OutputData) -> str:
    crs = data.paths.crs or data.buildings.crs
    return "no CRS" if crs is None else str(crs.name)


def _html_cashflow(data: OutputData) -> str:
    """The chart as an inline image with a note on discounting, or a line saying there is none."""
    if not has_cashflow(data):
        return '<p class="note">No cash flows: there is no network to pay for.</p>'
    rate = data.npv_rate
    line = (
        f"discounted at {rate:.2%} a year"
        if rate is not None
        else f"undiscounted (the file has no {NPV_RATE_KEY} parameter)"
    )
    return (
        '<img alt="Cashflow by year and cost kind, with the cumulative NPV" '
        f'src="data:image/png;base64,{_base64_png(_cashflow_figure(data))}">\n'
        '<p class="note">Bars: nominal value in each year by cost kind (costs below zero, '
        f"revenue above). Line: cumulative net present value, {html.escape(line)}.</p>"
    )


def _html_dispatch(data: OutputData) -> str:
    """The dispatch chart and what it shows, or nothing when the output has no dispatch."""
    if not has_dispatch(data):
        return ""
    note = dispatch_note(data)
    days = f"{note['day_types']} day types, 24 hours each"
    if note["averaged"]:
        days += " (a year hour by hour: each day type's days averaged)"
    return (
        "<h2>Dispatch</h2>\n"
        '<img alt="Heat by hour and unit on each day type, on/off status and storage level" '
        f'src="data:image/png;base64,{_base64_png(_dispatch_figure(data))}">\n'
        f'<p class="note">{html.escape(days)}: each unit\'s heat output stacked against the '
        "sites' demand (buildings and standing pipe losses); strips show when units with "
        "on/off status run, marks when they start; lines show each store's level. "
        f"{note['units']} units, {note['storages']} stores.</p>"
    )
