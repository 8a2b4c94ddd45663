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
        y_title: str = "", counts: bool = False) -> str:
    """A bar chart as a data: URI; `counts`: whole numbers, so the axis has no 0.2 of a
    request."""
    chart = pygal.Bar(title=title, y_title=y_title, **OPTIONS)
    chart.x_labels = labels
    if counts:
        chart.y_labels = whole_ticks(max((v or 0 for vs in series.values() for v in vs),
                                         default=0))
    for name, values in series.items():
        chart.add(name, values)
    return _data_uri(chart)


def whole_ticks(top: float, most: int = 6) -> list[int]:
    """Axis ticks 0, step, 2×step… covering `top`, whole numbers, at most `most` + 1 of them."""
    step = 1
    while top / step > most:
        for factor in (2, 2.5, 2):  # 1, 2, 5, 10, 20, 50…
            step = int(step * factor)
            if top / step <= most:
                break
    return list(range(0, int(top) + step + 1, step))[: most + 2] if top else [0, 1]


def line(title: str, labels: list[str], series: dict[str, list[float | None]],
         y_title: str = "", range_: tuple[float, float] | None = None) -> str:
    """A line chart as a data: URI."""
    chart = pygal.Line(title=title, y_title=y_title, range=range_, **OPTIONS)
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values)
    return _data_uri(chart)
