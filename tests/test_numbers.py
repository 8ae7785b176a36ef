"""One number style for terminal tables and report.html (imcsim.numbers): hand-picked columns."""

import math

import numpy as np
import pandas as pd

from imcsim.cli.output import format_table
from imcsim.numbers import NumberStyle, column_style, format_number
from imcsim.report.page import table_html


def format_column(values):
    style = column_style(values)
    return [format_number(v, style) for v in values]


def test_fixed_style_keeps_three_significant_digits_of_the_smallest():
    # smallest 11.5: floor(log10 11.5) = 1 -> 3 - 1 - 1 = 1 decimal; 17.74 is 17.7, not 18
    assert column_style([17.74, 11.5]) == NumberStyle("fixed", 1)
    assert format_column([17.74, 11.5]) == ["17.7", "11.5"]
    # smallest 0.0123: floor(log10) = -2 -> 3 - 1 + 2 = 4 decimals (the cap)
    assert format_column([0.0123, 2.5]) == ["0.0123", "2.5000"]
    # whole numbers stored as floats stay whole (a batch of 8.0, not 8.00)
    assert format_column([8.0, 102.0]) == ["8", "102"] and format_number(8.0) == "8"
    # smallest 1,234: 3 - 1 - 3 = -1 -> 0 decimals, thousands separators
    assert format_column([1234.5, 56789.0]) == ["1,234", "56,789"]


def test_scientific_when_a_magnitude_reaches_1e6_or_goes_below_1e_3():
    assert column_style([2.0e6, 3.0]) == NumberStyle("sci", 3)
    assert format_column([2.0e6, 3.0]) == ["2.000e+06", "3.000e+00"]
    assert format_column([5e-4, 0.5]) == ["5.000e-04", "5.000e-01"]


def test_specials_ints_and_text():
    assert [format_number(v) for v in (None, math.nan, math.inf, -math.inf, 0.0, True, False)] == \
        ["-", "-", "inf", "-inf", "0", "yes", "no"]
    assert [format_number(v) for v in (1024, 12345, np.int64(12345), "sas-mram")] == \
        ["1024", "12,345", "12,345", "sas-mram"]
    # an int among floats takes the column's style; a column without finite nonzero floats has none
    assert format_column([1, 1.25]) == ["1.00", "1.25"]
    assert column_style([0.0, math.inf, 3, "x"]) is None


def test_terminal_and_html_show_the_same_text():
    records = [{"device": "sas-mram", "ratio": 17.74, "energy_pj": 2.5e7},
               {"device": "reram", "ratio": 11.5, "energy_pj": 3.0e5}]
    text = format_table(records, ["device", "ratio", "energy_pj"])
    page = table_html(pd.DataFrame(records))
    for cell in ("17.7", "11.5", "2.500e+07", "3.000e+05"):
        assert cell in text and f">{cell}</td>" in page, cell
    assert "18<" not in page and " 18 " not in text
