"""Self-contained HTML report: tables and inline SVG charts drawn by matplotlib (no network, no files)."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")
FIGSIZE = (6.4, 3.4)


def _esc(value: object) -> str:
    return html.escape(str(value))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if value is None:
        return "–"
    return _esc(value)


def _figure(title: str, draw: Callable[[Axes], None]) -> str:
    """One chart as inline SVG (matplotlib's SVG backend, text kept as text), in a captioned figure."""
    # Imported here: every `deflect` process loads this module with the eval commands, and matplotlib
    # costs ~1 s of CPU at start-up that only a report being drawn needs.
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE)
    axes = figure.add_subplot()
    draw(axes)
    axes.grid(axis="y", color="#eeeeee")
    axes.set_axisbelow(True)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False, fontsize=8)
    figure.tight_layout()
    buffer = io.StringIO()
    with rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "deflect"}
    ):  # real text; stable ids between runs
        FigureCanvasSVG(figure).print_svg(buffer)  # type: ignore[no-untyped-call]
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype: the SVG is inlined in HTML
    return (
        f'<figure role="img" aria-label="{_esc(title)}">{svg}<figcaption>{_esc(title)}</figcaption></figure>'
    )


def _marker(axes: Axes, marker: tuple[float, str] | None) -> None:
    if marker is not None:
        axes.axvline(marker[0], color="black", linestyle="--", linewidth=1)
        axes.annotate(
            marker[1],
            (marker[0], 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -12),
            textcoords="offset points",
            fontsize=8,
        )


def line_chart(
    title: str,
    series: dict[str, list[tuple[float, float]]],
    *,
    x_label: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
    marker: tuple[float, str] | None = None,
) -> str:
    """Lines per series; `marker` draws a vertical line at x with a label (the operating point)."""
    if not any(series.values()):
        return ""

    def draw(axes: Axes) -> None:
        for i, (name, points) in enumerate(series.items()):
            ordered = sorted(points)
            axes.plot(
                [x for x, _ in ordered],
                [y for _, y in ordered],
                label=name,
                color=PALETTE[i % len(PALETTE)],
                marker="o" if len(ordered) <= 12 else None,
                markersize=3,
            )
        xs = sorted({x for points in series.values() for x, _ in points})
        if len(xs) <= 12 and all(float(x).is_integer() for x in xs):
            axes.set_xticks(xs)
        axes.set_xlabel(x_label)
        axes.set_ylabel(y_label)
        if y_range is not None:
            axes.set_ylim(*y_range)
        _marker(axes, marker)

    return _figure(title, draw)


def histogram(
    title: str,
    groups: dict[str, list[float]],
    *,
    bins: int = 30,
    x_label: str = "confidence",
    marker: tuple[float, str] | None = None,
) -> str:
    """Overlaid normalised histograms (share of each group per bin)."""
    values = [v for g in groups.values() for v in g]
    if not values:
        return ""
    edges = np.linspace(min(values), max(values) if max(values) > min(values) else min(values) + 1, bins + 1)

    def draw(axes: Axes) -> None:
        for i, (name, group) in enumerate(groups.items()):
            if group:
                axes.hist(
                    group,
                    bins=list(edges),
                    weights=np.full(len(group), 1 / len(group)),
                    alpha=0.5,
                    label=name,
                    color=PALETTE[i % len(PALETTE)],
                )
        axes.set_xlabel(x_label)
        axes.set_ylabel("share of queries")
        _marker(axes, marker)

    return _figure(title, draw)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: dict[str, list[float | None]],
    *,
    y_label: str,
    y_range: tuple[float, float] = (0.0, 1.0),
) -> str:
    """Grouped bars: one group per category, one bar per series (a missing value leaves a gap)."""
    if not categories or not series:
        return ""

    def draw(axes: Axes) -> None:
        width = 0.8 / len(series)
        positions = np.arange(len(categories))
        for i, (name, values) in enumerate(series.items()):
            heights = [np.nan if v is None else v for v in values]
            axes.bar(
                positions + i * width - 0.4 + width / 2,
                heights,
                width,
                label=name,
                color=PALETTE[i % len(PALETTE)],
            )
        axes.set_xticks(positions, [c[:14] for c in categories], fontsize=8)
        axes.set_ylabel(y_label)
        axes.set_ylim(*y_range)

    return _figure(title, draw)


def table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}td,th{border:1px solid #ddd;padding:3px 7px;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:.5rem 1rem .5rem 0}figcaption{font-size:.8rem;color:#555;text-align:center}
.note{color:#555;font-size:.85rem}pre{background:#f7f7f7;padding:.6rem;overflow:auto;font-size:.75rem}
"""


def page(title: str, sections: Sequence[tuple[str, str]], results: dict[str, Any]) -> str:
    """The whole report; the raw results are embedded too, so the file alone is the record."""
    nav = "".join(f'<li><a href="#s{i}">{_esc(name)}</a></li>' for i, (name, _) in enumerate(sections))
    body = "".join(f'<h2 id="s{i}">{_esc(name)}</h2>{content}' for i, (name, content) in enumerate(sections))
    raw = html.escape(json.dumps(results, indent=1, default=str)[:200_000])
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_esc(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{_esc(title)}</h1><ul>{nav}</ul>{body}"
        f"<h2>Raw results</h2><details><summary>results.json</summary><pre>{raw}</pre></details>"
        f"</body></html>"
    )
