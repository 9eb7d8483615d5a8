"""Self-contained HTML report with hand-built inline SVG charts (no plotting library, no network)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")
W, H, PAD_L, PAD_B, PAD_T, PAD_R = 560, 300, 52, 40, 24, 150


def _esc(value: object) -> str:
    return html.escape(str(value))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if value is None:
        return "–"
    return _esc(value)


class _Frame:
    """Maps data to pixels for one chart and writes axes with ticks."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 == self.x0:
            self.x1 = self.x0 + 1
        if self.y1 == self.y0:
            self.y1 = self.y0 + 1

    def x(self, v: float) -> float:
        return PAD_L + (v - self.x0) / (self.x1 - self.x0) * (W - PAD_L - PAD_R)

    def y(self, v: float) -> float:
        return H - PAD_B - (v - self.y0) / (self.y1 - self.y0) * (H - PAD_B - PAD_T)

    def axes(self, x_label: str, y_label: str, x_ticks: Sequence[float] | None = None) -> str:
        parts = [
            f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#333"/>',
            f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#333"/>',
        ]
        for i in range(6):
            v = self.y0 + (self.y1 - self.y0) * i / 5
            parts.append(
                f'<line x1="{PAD_L - 4}" y1="{self.y(v):.1f}" x2="{W - PAD_R}" y2="{self.y(v):.1f}" '
                f'stroke="#eee"/><text x="{PAD_L - 6}" y="{self.y(v) + 4:.1f}" text-anchor="end">'
                f"{v:.2f}</text>"
            )
        ticks = x_ticks if x_ticks is not None else [self.x0 + (self.x1 - self.x0) * i / 5 for i in range(6)]
        for v in ticks:
            parts.append(
                f'<text x="{self.x(v):.1f}" y="{H - PAD_B + 16}" text-anchor="middle">{v:.3g}</text>'
            )
        parts.append(
            f'<text x="{(PAD_L + W - PAD_R) / 2}" y="{H - 6}" text-anchor="middle">{_esc(x_label)}</text>'
        )
        parts.append(
            f'<text x="12" y="{(PAD_T + H - PAD_B) / 2}" transform="rotate(-90 12 {(PAD_T + H - PAD_B) / 2})"'
            f' text-anchor="middle">{_esc(y_label)}</text>'
        )
        return "".join(parts)


def _legend(names: Sequence[str]) -> str:
    return "".join(
        f'<rect x="{W - PAD_R + 10}" y="{PAD_T + 16 * i}" width="10" height="10" '
        f'fill="{PALETTE[i % len(PALETTE)]}"/>'
        f'<text x="{W - PAD_R + 24}" y="{PAD_T + 16 * i + 9}">{_esc(name)}</text>'
        for i, name in enumerate(names)
    )


def _svg(title: str, body: str) -> str:
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'font-family="sans-serif" font-size="11" role="img" aria-label="{_esc(title)}">{body}</svg>'
        f"<figcaption>{_esc(title)}</figcaption></figure>"
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
    points = [p for s in series.values() for p in s]
    if not points:
        return ""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    frame = _Frame((min(xs), max(xs)), y_range or (min(ys), max(ys)))
    integer_x = all(float(x).is_integer() for x in xs) and len(set(xs)) <= 12
    body = [frame.axes(x_label, y_label, sorted(set(xs)) if integer_x else None)]
    for i, (name, pts) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in sorted(pts))
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        if len(pts) <= 12:
            body.extend(
                f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3" fill="{colour}"/>' for x, y in pts
            )
    if marker is not None:
        mx = frame.x(marker[0])
        body.append(
            f'<line x1="{mx:.1f}" y1="{PAD_T}" x2="{mx:.1f}" y2="{H - PAD_B}" stroke="#000" '
            f'stroke-dasharray="4 3"/><text x="{mx + 4:.1f}" y="{PAD_T + 10}">{_esc(marker[1])}</text>'
        )
    body.append(_legend(list(series)))
    return _svg(title, "".join(body))


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
    lo, hi = min(values), max(values)
    width = (hi - lo) / bins or 1.0
    shares: dict[str, list[float]] = {}
    for name, group in groups.items():
        counts = [0] * bins
        for v in group:
            counts[min(bins - 1, int((v - lo) / width))] += 1
        shares[name] = [c / len(group) if group else 0.0 for c in counts]
    frame = _Frame((lo, hi), (0.0, max(max(s) for s in shares.values()) or 1.0))
    body = [frame.axes(x_label, "share of queries")]
    for i, (name, share) in enumerate(shares.items()):
        colour = PALETTE[i % len(PALETTE)]
        for b, s in enumerate(share):
            if s:
                x0, x1 = frame.x(lo + b * width), frame.x(lo + (b + 1) * width)
                body.append(
                    f'<rect x="{x0:.1f}" y="{frame.y(s):.1f}" width="{max(1.0, x1 - x0 - 1):.1f}" '
                    f'height="{frame.y(0) - frame.y(s):.1f}" fill="{colour}" fill-opacity="0.5"/>'
                )
    if marker is not None:
        mx = frame.x(marker[0])
        body.append(
            f'<line x1="{mx:.1f}" y1="{PAD_T}" x2="{mx:.1f}" y2="{H - PAD_B}" stroke="#000" '
            f'stroke-dasharray="4 3"/><text x="{mx + 4:.1f}" y="{PAD_T + 10}">{_esc(marker[1])}</text>'
        )
    body.append(_legend(list(groups)))
    return _svg(title, "".join(body))


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: dict[str, list[float | None]],
    *,
    y_label: str,
    y_range: tuple[float, float] = (0.0, 1.0),
) -> str:
    """Grouped bars: one group per category, one bar per series."""
    if not categories or not series:
        return ""
    frame = _Frame((0.0, float(len(categories))), y_range)
    body = [frame.axes("", y_label, [])]
    group_w = (W - PAD_L - PAD_R) / len(categories)
    bar_w = group_w * 0.8 / len(series)
    for c, category in enumerate(categories):
        gx = PAD_L + c * group_w
        for i, (_, values) in enumerate(series.items()):
            value = values[c]
            if value is None:
                continue
            clipped = max(y_range[0], min(y_range[1], value))
            x = gx + group_w * 0.1 + i * bar_w
            body.append(
                f'<rect x="{x:.1f}" y="{frame.y(clipped):.1f}" width="{bar_w - 1:.1f}" '
                f'height="{frame.y(y_range[0]) - frame.y(clipped):.1f}" fill="{PALETTE[i % len(PALETTE)]}">'
                f"<title>{_esc(category)}: {value:.3f}</title></rect>"
            )
        body.append(
            f'<text x="{gx + group_w / 2:.1f}" y="{H - PAD_B + 16}" text-anchor="middle">'
            f"{_esc(category[:14])}</text>"
        )
    body.append(_legend(list(series)))
    return _svg(title, "".join(body))


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
