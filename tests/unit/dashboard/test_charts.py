"""The SVG chart helpers: well-formed, named for assistive technology, escaped, and honest about gaps."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from chalicelib.formats import charts

D = Decimal
SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


@pytest.mark.parametrize(("low", "high", "expected"), [
    (D(0), D(100), [D(0), D(20), D(40), D(60), D(80), D(100)]),
    (D(0), D("1820971"), [D(0), D(500000), D(1000000), D(1500000), D(2000000)]),
    (D(-12), D(30), [D(-20), D(-10), D(0), D(10), D(20), D(30)]),
    (D(5), D(5), [D(0), D(1), D(2), D(3), D(4), D(5)]),
    (D(0), D(0), [D(0), D("0.2"), D("0.4"), D("0.6"), D("0.8"), D(1)]),
])
def test_ticks_are_round_and_cover_the_range_and_zero(low, high, expected):
    ticks = charts.nice_ticks(low, high)
    assert ticks == expected
    assert ticks[0] <= min(low, 0) and ticks[-1] >= max(high, 0)


def test_a_bar_chart_is_an_image_named_by_its_title_and_description_with_every_value_written():
    svg = charts.bar_chart("c1", "Aging <EUR>", "Five buckets & a total", ["Current", "1-30 days"],
                           [D("1104250.00"), D("402310.55")], fmt=lambda v: f"{v:,.0f}", y_label="EUR")
    root = parse(svg)  # well-formed XML: every text escaped
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Aging <EUR>" and root.find(f"{SVG}title").get("id") == "c1-title"
    assert root.find(f"{SVG}desc").text == "Five buckets & a total"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "1,104,250" in texts and "402,311" in texts and "Current" in texts and "EUR" in texts
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == charts.BAR]
    assert len(bars) == 2 and float(bars[0].get("height")) > float(bars[1].get("height")) > 0


def test_a_missing_bar_says_so_instead_of_drawing_zero():
    root = parse(charts.bar_chart("c", "t", "d", ["a", "b"], [D(3), None]))
    assert "n/a" in [t.text for t in root.iter(f"{SVG}text")]
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("fill") == charts.BAR]) == 1


def test_line_series_differ_by_dash_and_marker_not_only_colour_and_are_named_in_a_legend():
    series = [charts.Series("DSO", (D(48), D(46), None, D(44))), charts.Series("Best possible DSO", (D(31),) * 4),
              charts.Series("ADD", (D(17), D(15), D(14), D(13)))]
    root = parse(charts.line_chart("c", "t", "d", ["Jan\n2026", "Feb", "Mar", "Apr"], series))
    paths = [p for p in root.iter(f"{SVG}path")]
    assert len({p.get("stroke-dasharray") for p in paths}) == 3
    assert paths[0].get("d").count("M") == 2  # the gap (None) breaks the line rather than inventing a value
    assert root.findall(f".//{SVG}circle") and root.findall(f".//{SVG}polygon")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"DSO", "Best possible DSO", "ADD", "Jan", "2026", "Feb"} <= set(texts)


def test_the_forecast_chart_draws_a_range_an_expected_line_and_actual_bars_for_past_weeks_only():
    root = parse(charts.forecast_chart("f", "t", "d", ["1", "2", "3"], [D(10), D(12), D(11)], [D(8), D(9), D(8)],
                                       [D(12), D(15), D(14)], [D(9), None, None]))
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("fill") == charts.BAR and r.get("height") != "12"]) == 1
    assert any(p.get("fill") == charts.BAND for p in root.iter(f"{SVG}polygon"))
    assert {"Actual", "Expected", "Low-high range"} <= {t.text for t in root.iter(f"{SVG}text")}


def test_mismatched_series_are_refused():
    with pytest.raises(ValueError):
        charts.bar_chart("c", "t", "d", ["a"], [D(1), D(2)])
    with pytest.raises(ValueError):
        charts.line_chart("c", "t", "d", ["a"], [charts.Series("x", (D(1), D(2)))])
    with pytest.raises(ValueError):
        charts.line_chart("c", "t", "d", ["a"], [charts.Series(str(i), (D(1),)) for i in range(4)])


def test_negative_values_hang_below_the_zero_line():
    root = parse(charts.bar_chart("c", "t", "d", ["a", "b"], [D(-5), D(10)]))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == charts.BAR]
    assert float(bars[0].get("y")) > float(bars[1].get("y"))


def test_count_axes_tick_in_whole_numbers():
    assert charts.nice_ticks(D(0), D(1), min_step=D(1)) == [D(0), D(1)]
    root = parse(charts.bar_chart("c", "t", "d", ["a"], [D(1)], counts=True))
    assert "0.2" not in [t.text for t in root.iter(f"{SVG}text")]
