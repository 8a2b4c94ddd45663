"""Charts drawn server-side as SVG with pygal, embedded as data: images (no script, no CDN)."""

from __future__ import annotations

import base64

import pygal
from pygal.style import Style

STYLE = Style(background="white", plot_background="white", foreground="#1d2330",
              foreground_strong="#1d2330", foreground_subtle="#5d6677",
              colors=("#2456c7", "#137a3a", "#8a6100", "#b3261e", "#7a5af8", "#5d6677"),
              font_family="system-ui, sans-serif")
OPTIONS = dict(style=STYLE, js=[], disable_xml_declaration=True, width=640, height=300,
               show_legend=True, legend_at_bottom=True, print_values=False,
               explicit_size=True)


def _data_uri(chart) -> str:
    svg = chart.render(is_unicode=True).encode()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def bar(title: str, labels: list[str], series: dict[str, list[float | None]],
        y_title: str = "") -> str:
    """A bar chart as a data: URI."""
    chart = pygal.Bar(title=title, y_title=y_title, **OPTIONS)
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values)
    return _data_uri(chart)


def line(title: str, labels: list[str], series: dict[str, list[float | None]],
         y_title: str = "", range_: tuple[float, float] | None = None) -> str:
    """A line chart as a data: URI."""
    chart = pygal.Line(title=title, y_title=y_title, range=range_, **OPTIONS)
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values)
    return _data_uri(chart)
