"""Inline SVG charts for the dashboard: pure functions, data in, SVG text out (no JavaScript, no external asset).

Every chart is `<svg role="img">` named by its own `<title>` and `<desc>` (aria-labelledby), has axes with tick
labels, and never carries meaning by colour alone: bars are labelled with their values, each line series has its
own dash pattern and marker shape and is named in a legend and at its last point. The page shows a data table
beside each chart. Colours reach at least 3:1 against white (WCAG 1.4.11), text 4.5:1. Geometry is computed in
Decimal and printed to one decimal; every text is XML-escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from xml.sax.saxutils import escape, quoteattr

WIDTH = 560
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 44, 56
TEXT = "#1a1a1a"
GRID = "#767676"  # 4.5:1 on white
FONT = 'font-family="system-ui, sans-serif"'
# (stroke colour, dash pattern, marker) per series: distinguishable without colour.
STYLES: tuple[tuple[str, str, str], ...] = (
    ("#1f4e79", "", "circle"),  # dark blue, solid, circles
    ("#a84300", "8 4", "square"),  # dark orange, dashed, squares
    ("#2b6a2b", "2 3", "triangle"),  # dark green, dotted, triangles
)
BAR = "#1f4e79"
BAND = "#c9d7e8"  # the forecast's low-high range: a light area, outlined

Format = Callable[[Decimal], str]


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[Decimal | None, ...]


def plain(value: Decimal) -> str:
    return f"{value:,.1f}"


def _n(value: Decimal) -> str:
    """A coordinate: one decimal, no exponent."""
    return f"{value.quantize(Decimal('0.1')):f}"


def nice_ticks(low: Decimal, high: Decimal, count: int = 5, min_step: Decimal | None = None) -> list[Decimal]:
    """Round tick values covering [low, high] (0 included), about `count` of them, step 1, 2 or 5 x 10^n (at least
    `min_step`: 1 for counts)."""
    low, high = min(low, Decimal(0)), max(high, Decimal(0))
    if low == high:
        high = low + 1
    raw = (high - low) / max(1, count)
    if min_step is not None:
        raw = max(raw, min_step)
    exponent = raw.adjusted()
    magnitude = Decimal(1).scaleb(exponent)
    step = next(m * magnitude for m in (Decimal(1), Decimal(2), Decimal(5), Decimal(10)) if m * magnitude >= raw)
    first = (low / step).to_integral_value(ROUND_FLOOR) * step
    last = (high / step).to_integral_value(ROUND_CEILING) * step
    ticks = []
    value = first
    while value <= last:
        ticks.append(value.normalize() if value != 0 else Decimal(0))
        value += step
    return ticks


class _Scale:
    def __init__(self, ticks: Sequence[Decimal], top: int = TOP, bottom: int = HEIGHT - BOTTOM) -> None:
        self.low, self.high = ticks[0], ticks[-1]
        self.top, self.bottom = Decimal(top), Decimal(bottom)

    def __call__(self, value: Decimal) -> Decimal:
        share = (value - self.low) / (self.high - self.low)
        return self.bottom - share * (self.bottom - self.top)


def _open(chart_id: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart" id={quoteattr(chart_id)}>',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]


def _y_axis(ticks: Sequence[Decimal], scale: _Scale, fmt: Format, y_label: str) -> list[str]:
    parts = [f'<g {FONT} font-size="13" fill="{TEXT}">']
    for tick in ticks:
        y = _n(scale(tick))
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="#d0d0d0" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y}" text-anchor="end" dominant-baseline="middle">'
                     f'{escape(fmt(tick))}</text>')
    if scale.low < 0 < scale.high:
        zero = _n(scale(Decimal(0)))
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero}" y2="{zero}" stroke="{GRID}"/>')
    parts.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="{GRID}"/>')
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" '
                 f'stroke="{GRID}"/>')
    parts.append(f'<text x="{LEFT}" y="{TOP - 24}" text-anchor="start" font-weight="bold">{escape(y_label)}</text>')
    parts.append("</g>")
    return parts


def _x_labels(labels: Sequence[str], centres: Sequence[Decimal]) -> list[str]:
    parts = [f'<g {FONT} font-size="13" fill="{TEXT}">']
    every = max(1, (len(labels) + 12) // 13)  # at most 13 labels: they stay legible
    for index, (label, x) in enumerate(zip(labels, centres, strict=True)):
        if index % every == 0 or index == len(labels) - 1:
            first, _, second = label.partition("\n")  # a second line (the year under a month) when given
            parts.append(f'<text x="{_n(x)}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{escape(first)}</text>')
            if second:
                parts.append(f'<text x="{_n(x)}" y="{HEIGHT - BOTTOM + 34}" text-anchor="middle">'
                             f'{escape(second)}</text>')
    parts.append("</g>")
    return parts


def _slots(count: int) -> tuple[Decimal, list[Decimal]]:
    """The width of each category's slot and its centre."""
    inner = Decimal(WIDTH - LEFT - RIGHT)
    slot = inner / max(1, count)
    return slot, [Decimal(LEFT) + slot * index + slot / 2 for index in range(count)]


def bar_chart(chart_id: str, title: str, desc: str, labels: Sequence[str], values: Sequence[Decimal | None],
              *, fmt: Format = plain, y_label: str = "", counts: bool = False) -> str:
    """One bar per label, its value written above it (or "n/a" where None); zero-based axis (whole-number ticks
    for `counts`)."""
    if len(labels) != len(values):
        raise ValueError("one value per label")
    known = [v for v in values if v is not None]
    ticks = nice_ticks(min(known, default=Decimal(0)), max(known, default=Decimal(1)),
                       min_step=Decimal(1) if counts else None)
    scale = _Scale(ticks)
    slot, centres = _slots(len(labels))
    width = slot * Decimal("0.6")
    parts = _open(chart_id, title, desc) + _y_axis(ticks, scale, fmt, y_label)
    parts.append(f'<g {FONT} font-size="13" fill="{TEXT}">')
    zero = scale(Decimal(0))
    for value, x in zip(values, centres, strict=True):
        if value is None:
            parts.append(f'<text x="{_n(x)}" y="{_n(zero - 6)}" text-anchor="middle">n/a</text>')
            continue
        y = scale(value)
        top, height = min(y, zero), abs(zero - y)
        parts.append(f'<rect x="{_n(x - width / 2)}" y="{_n(top)}" width="{_n(width)}" height="{_n(height)}" '
                     f'fill="{BAR}"/>')
        label_y = top - 6 if value >= 0 else top + height + 14
        parts.append(f'<text x="{_n(x)}" y="{_n(label_y)}" text-anchor="middle">{escape(fmt(value))}</text>')
    parts.append("</g>")
    parts += _x_labels(labels, centres)
    parts.append("</svg>")
    return "\n".join(parts)


def _marker(shape: str, x: Decimal, y: Decimal, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{_n(x - 4)}" y="{_n(y - 4)}" width="8" height="8" fill="{colour}"/>'
    if shape == "triangle":
        return (f'<polygon points="{_n(x)},{_n(y - 5)} {_n(x + 5)},{_n(y + 4)} {_n(x - 5)},{_n(y + 4)}" '
                f'fill="{colour}"/>')
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="4" fill="{colour}"/>'


def _legend(entries: Sequence[tuple[str, str, str, str]]) -> list[str]:
    """(name, colour, dash, marker) in a row above the plot, each with a sample of its line and marker."""
    parts = [f'<g {FONT} font-size="13" fill="{TEXT}">']
    x = Decimal(WIDTH - RIGHT)
    placed = []
    for name, colour, dash, marker in reversed(entries):
        width = Decimal(30 + 7 * len(name))  # about 7 units per character at 13
        x -= width + 12
        placed.append((x, name, colour, dash, marker))
    for x, name, colour, dash, marker in reversed(placed):
        y = Decimal(TOP - 28)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        if marker == "band":
            parts.append(f'<rect x="{_n(x)}" y="{_n(y - 6)}" width="24" height="12" fill="{BAND}" stroke="{GRID}"/>')
        elif marker == "bar":
            parts.append(f'<rect x="{_n(x + 6)}" y="{_n(y - 6)}" width="12" height="12" fill="{colour}"/>')
        else:
            parts.append(f'<line x1="{_n(x)}" x2="{_n(x + 24)}" y1="{_n(y)}" y2="{_n(y)}" stroke="{colour}" '
                         f'stroke-width="2"{dash_attr}/>')
            parts.append(_marker(marker, x + 12, y, colour))
        parts.append(f'<text x="{_n(x + 30)}" y="{_n(y)}" dominant-baseline="middle">{escape(name)}</text>')
    parts.append("</g>")
    return parts


def _path(points: Sequence[tuple[Decimal, Decimal] | None]) -> str:
    """An SVG path through the points; a None breaks the line (a month without a figure)."""
    commands = []
    pen_up = True
    for point in points:
        if point is None:
            pen_up = True
            continue
        commands.append(f"{'M' if pen_up else 'L'}{_n(point[0])},{_n(point[1])}")
        pen_up = False
    return " ".join(commands)


def line_chart(chart_id: str, title: str, desc: str, labels: Sequence[str], series: Sequence[Series], *,
               fmt: Format = plain, y_label: str = "") -> str:
    """Up to three series over the same labels, each with its dash pattern, markers and legend entry."""
    if len(series) > len(STYLES):
        raise ValueError(f"at most {len(STYLES)} series")
    if any(len(s.values) != len(labels) for s in series):
        raise ValueError("one value per label in every series")
    known = [v for s in series for v in s.values if v is not None]
    ticks = nice_ticks(min(known, default=Decimal(0)), max(known, default=Decimal(1)))
    scale = _Scale(ticks)
    _, centres = _slots(len(labels))
    parts = _open(chart_id, title, desc) + _y_axis(ticks, scale, fmt, y_label)
    parts += _legend([(s.name, *STYLES[i]) for i, s in enumerate(series)])
    for index, line in enumerate(series):
        colour, dash, marker = STYLES[index]
        points = [None if v is None else (x, scale(v)) for v, x in zip(line.values, centres, strict=True)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<path d="{_path(points)}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        parts += [_marker(marker, p[0], p[1], colour) for p in points if p is not None]
    parts += _x_labels(labels, centres)
    parts.append("</svg>")
    return "\n".join(parts)


def forecast_chart(chart_id: str, title: str, desc: str, labels: Sequence[str], expected: Sequence[Decimal],
                   low: Sequence[Decimal], high: Sequence[Decimal], actual: Sequence[Decimal | None], *,
                   fmt: Format = plain, y_label: str = "") -> str:
    """Expected receipts per week (dashed line, squares) inside their low-high range (a shaded area), and actual
    receipts (bars) for the weeks that are over."""
    if not len(labels) == len(expected) == len(low) == len(high) == len(actual):
        raise ValueError("one value per week in every series")
    known = [*expected, *low, *high, *(a for a in actual if a is not None)]
    ticks = nice_ticks(min(known, default=Decimal(0)), max(known, default=Decimal(1)))
    scale = _Scale(ticks)
    slot, centres = _slots(len(labels))
    width = slot * Decimal("0.5")
    colour, dash, marker = STYLES[1]
    parts = _open(chart_id, title, desc) + _y_axis(ticks, scale, fmt, y_label)
    parts += _legend([("Actual", BAR, "", "bar"), ("Expected", colour, dash, marker), ("Low-high range", "", "",
                                                                                         "band")])
    if centres:
        upper = [f"{_n(x)},{_n(scale(v))}" for x, v in zip(centres, high, strict=True)]
        lower = [f"{_n(x)},{_n(scale(v))}" for x, v in reversed(list(zip(centres, low, strict=True)))]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="{BAND}" stroke="{GRID}" '
                     f'stroke-width="1"/>')
    zero = scale(Decimal(0))
    for value, x in zip(actual, centres, strict=True):
        if value is not None:
            y = scale(value)
            parts.append(f'<rect x="{_n(x - width / 2)}" y="{_n(min(y, zero))}" width="{_n(width)}" '
                         f'height="{_n(abs(zero - y))}" fill="{BAR}"/>')
    points = [(x, scale(v)) for x, v in zip(centres, expected, strict=True)]
    parts.append(f'<path d="{_path(points)}" fill="none" stroke="{colour}" stroke-width="2" '
                 f'stroke-dasharray="{dash}"/>')
    parts += [_marker(marker, x, y, colour) for x, y in points]
    parts += _x_labels(labels, centres)
    parts.append("</svg>")
    return "\n".join(parts)
