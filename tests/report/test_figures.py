"""Trajectory figure: deterministic SVG bytes, no date, text kept as text, ids unique per figure."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from allianceStats.errors import AllianceStatsError, SchemaError
from allianceStats.report.figures import trajectory_plot


def test_trajectory_svg_is_deterministic_and_self_contained(sessions):
    a = trajectory_plot(sessions, "alliance", figure_id="a")
    b = trajectory_plot(sessions.sample(frac=1, random_state=0), "alliance", figure_id="a")
    assert a == b
    root = ET.fromstring(a)
    assert root.tag.endswith("svg")
    assert "dc:date" not in a and "<?xml" not in a and "http://" not in a.replace(
        "http://www.w3.org/2000/svg", "").replace("http://www.w3.org/1999/xlink", "")
    assert "<text" in a  # svg.fonttype = none keeps text selectable
    ids = re.findall(r'id="([^"]+)"', a)
    assert ids and all(i.startswith("a-") for i in ids)
    for ref in re.findall(r"url\(#([^)]+)\)", a):
        assert ref in ids
    sizes = [float(s) for s in re.findall(r"font-size: ?([\d.]+)px", a)] + \
            [float(s) for s in re.findall(r"font: [^;\"]*?([\d.]+)px", a)]
    assert sizes and min(sizes) >= 10


def test_trajectory_samples_clients_with_seed(sessions):
    few = trajectory_plot(sessions, "outcome", max_clients=5, seed=1)
    assert "5 of 24 clients" in few
    assert few == trajectory_plot(sessions, "outcome", max_clients=5, seed=1)
    assert "n=24" in few  # all clients observed at session 1, shown under the axis


def test_trajectory_bad_column(sessions):
    with pytest.raises(SchemaError, match="column 'nope' not found in data"):
        trajectory_plot(sessions, "nope")
    with pytest.raises(SchemaError, match="column 'alliance' has no non-missing value"):
        trajectory_plot(sessions.assign(alliance=float("nan")), "alliance")


def test_trajectory_session_column_and_its_old_name(sessions):
    visits = sessions.rename(columns={"session": "visit"})
    svg = trajectory_plot(visits, "alliance", session="visit", figure_id="a")
    with pytest.warns(FutureWarning, match="argument time= is renamed session="):
        assert trajectory_plot(visits, "alliance", time="visit", figure_id="a") == svg


def test_retention_plot_groups_by_line_style():
    import pandas as pd

    from allianceStats.report.figures import retention_plot

    km = pd.DataFrame({"group": ["low", "low", "high", "high"], "time": [2, 4, 3, 6],
                       "survival": [0.8, 0.5, 0.9, 0.7]})
    svg = retention_plot(km, figure_id="km")
    assert svg == retention_plot(km.iloc[::-1], figure_id="km")  # row order does not matter
    assert ">low<" in svg and ">high<" in svg
    assert "stroke-dasharray" in svg  # the second group is dashed, not a second colour
    with pytest.raises(AllianceStatsError, match="survival"):
        retention_plot(km.drop(columns="survival"))
