"""Report assembly: escaping, methodology, and a page that needs no network."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from markupsafe import escape

from carbonboard import report
from carbonboard.assets_path import assets_dir
from carbonboard.data.store import HistoryStore
from carbonboard.regional import baseline as rbase
from carbonboard.regional import tables as rtab
from carbonboard.regional import text as rtext
from carbonboard.selection import Selection
from tracker import schema

HOSTILE = '<script>alert("x")</script><img src="https://example.org/x.png">'
STAMP = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def load_source(tmp_path: Path, columns: dict[str, list]) -> HistoryStore:
    """Runs as the dashboard has them: written to a contract CSV, read by the real loader."""
    count = len(next(iter(columns.values())))
    base = {
        "timestamp": [f"2026-06-0{i + 1}T12:00:00+00:00" for i in range(count)],
        "project_name": ["p"] * count,
        "run_id": [f"run-{i}" for i in range(count)],
        "duration": [60.0] * count,
        "emissions": [0.01] * count,
        "energy_consumed": [0.05] * count,
        "country_name": ["France"] * count,
        "status": ["finished"] * count,
    }
    rows = {**base, **columns}
    path = tmp_path / "emissions.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=schema.FIELDNAMES)
        writer.writeheader()
        for i in range(count):
            writer.writerow({name: values[i] for name, values in rows.items()})
    return HistoryStore([path], disk_cache=False)


def methodology_runs(tmp_path: Path) -> pd.DataFrame:
    return (
        load_source(
            tmp_path,
            {
                "carbon_intensity_source": ["country:FRA", "country:FRA", "world-average", HOSTILE],
                "carbon_intensity_year": ["2023", "2023", "2023", ""],
                "cpu_energy_method": ["rapl", "rapl", "tdp-model", "rapl"],
                "gpu_energy_method": ["none", "nvml-energy-counter", "none", ""],
                "ram_energy_method": ["ram-model"] * 4,
                "pue": [1.0, 1.0, 1.2, ""],
            },
        )
        .history()
        .runs
    )


def test_describe_selection_says_what_the_view_is():
    assert report.describe_selection(Selection()) == "all projects, all experiments, all dates"
    text = report.describe_selection(
        Selection(project="nlp", experiment="bert", date_from="2026-01-01")
    )
    assert text == "project nlp, experiment bert, from 2026-01-01 to today"


def test_html_table_escapes_every_cell_and_header():
    frame = pd.DataFrame({HOSTILE: [HOSTILE, None], "n": [1.5, float("nan")]})
    html = report.html_table(frame, numeric=["n"])
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert '<td class="num">1.5</td>' in html
    assert html.count("<tr>") == 3


def test_methodology_lists_sources_years_methods_and_pue_with_run_counts(tmp_path):
    html = report.methodology_section(methodology_runs(tmp_path))
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in rows]
    assert ["France", "", "", "country:FRA", "2023", "2", "100 Wh", "200 gCO₂e/kWh"] in cells
    assert ["France", "", "", "world-average", "2023", "1", "50 Wh", "200 gCO₂e/kWh"] in cells
    assert ["rapl", "3"] in cells and ["tdp-model", "1"] in cells
    assert ["nvml-energy-counter", "1"] in cells and ["not recorded", "1"] in cells
    assert ["ram-model", "4"] in cells
    assert ["1.0", "2"] in cells and ["1.2", "1"] in cells
    assert "<script>" not in html


def test_methodology_of_an_empty_view_still_renders(tmp_path):
    html = report.methodology_section(methodology_runs(tmp_path).iloc[0:0])
    assert "<h2>Methodology</h2>" in html


def test_page_inlines_plotly_once_and_refers_to_nothing_outside(external_refs):
    figure = go.Figure(go.Bar(x=[HOSTILE, "b"], y=[1, 2]), layout={"title": {"text": HOSTILE}})
    html = report.page(HOSTILE, "sub", [report.figure_div(figure, "chart-one")], generated_at=STAMP)
    assert html.count("plotly.js v") == 1
    assert external_refs(html) == []
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert "<title>&lt;script&gt;" in html
    # Data inside the figure's JSON cannot close the script element it lives in.
    assert html.count("<script") == html.count("</script>")
    assert "</script><img" not in html
    assert "2026-06-01T12:00:00+00:00" in html


def test_build_report_of_a_view_escapes_csv_text_everywhere(tmp_path, external_refs):
    source = load_source(
        tmp_path,
        {
            "project_name": [HOSTILE, HOSTILE, "other"],
            "experiment_id": ["exp", "exp", "exp"],
            "emissions": [0.5, 0.25, 9.0],
            "cpu_energy": [1.0, 0.5, 9.0],
        },
    )
    html = report.build_report(source, Selection(project=HOSTILE), generated_at=STAMP)
    assert 'alert("x")</script>' not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html  # the runs table
    assert "750 g CO₂eq" in html  # totals of the selected project only
    # 4 charts (no per-project chart for one project), then the map, ranking and cloud regions
    assert html.count('class="plotly-graph-div"') == 4 + 3
    assert "; 2 runs</p>" in html
    assert external_refs(html) == []


def test_sections_follow_the_report_list(tmp_path):
    """One section per entry of ``report.SECTIONS``, in its order (the comparison only when runs
    are picked, efficiency only when runs logged metrics or a budget is set)."""
    source = load_source(tmp_path, {"experiment_id": ["a", "b", "c"]})
    html = report.build_report(source, Selection(run_ids=("run-0", "run-1")), STAMP)
    shown = re.findall(r'<section id="([^"]+)">', html)
    assert shown == [
        "totals",
        "equivalents",
        "charts",
        "comparison",
        "regional",
        "runs",
        "methodology",
    ]
    assert len(report.SECTIONS) == len(shown) + 1  # efficiency: these runs logged no metrics
    assert html.endswith("</html>\n")


def plotted(html: str, div_id: str) -> tuple[list[dict], dict]:
    """The data and layout the page hands plotly.js for one chart."""
    call = re.search(rf'Plotly\.newPlot\(\s*"{div_id}",\s*', html)
    assert call, f"no chart {div_id}"
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(html, call.end())
    layout, _ = decoder.raw_decode(html, html.index("{", end))
    return data, layout


def regional_source(tmp_path: Path) -> HistoryStore:
    """Runs in two countries, one of them in a cloud region, one in a region with no data."""
    return load_source(
        tmp_path,
        {
            "country_iso_code": ["FRA", "POL", "USA", "DEU"],
            "region": ["", "", "iowa", ""],
            "cloud_provider": ["", "", "gcp", "ovh"],
            "cloud_region": ["", "", "us-central1", "de-1"],
            "energy_consumed": [2.0, 1.0, 4.0, 0.5],
            "pue": [1.0, 1.0, 1.1, 1.0],
        },
    )


def test_regional_section_holds_the_map_ranking_and_cloud_with_their_assumptions(tmp_path):
    runs = regional_source(tmp_path).history().runs
    html = report.regional_section(runs)
    base, countries, cloud = rbase.baseline(runs), rtab.country_table(), rtab.cloud_table()

    (choropleth, stars), layout = plotted(html, "chart-world-map")
    assert choropleth["type"] == "choropleth" and choropleth["locationmode"] == "ISO-3"
    assert len(choropleth["locations"]) == len(countries) > 150
    assert choropleth["colorbar"]["title"]["text"] == "grid intensity (gCO2e/kWh)"
    assert set(stars["locations"]) == {"FRA", "POL", "USA", "DEU"}
    assert layout["geo"]["projection"]["type"] == "natural earth"

    ranking = rtab.country_ranking(base, countries, rtab.RANKING_SIZE)
    (bars,), _ = plotted(html, "chart-country-ranking")
    assert bars["y"] == list(ranking["label"]) and "Your runs" in bars["y"]

    compared = rtab.cloud_comparison(base, cloud)
    (cloud_bars,), _ = plotted(html, "chart-cloud-regions")
    charted = rtab.cleanest_regions(compared)
    assert len(cloud_bars["y"]) == len(charted) and "GCP us-central1 (yours)" in cloud_bars["y"]

    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html)
    grid = escape(rtext.grid_assumptions(base, countries, countries))
    ranking = escape(rtext.ranking_note(base))
    assert captions == [
        grid,
        ranking,
        escape(rtext.cloud_assumptions(base, cloud, len(compared) - len(charted))),
    ]
    assert "Same energy everywhere" in captions[0] and "GCP 1.10" in captions[2]
    finding = re.search(r'<p class="recommendation">(.*?)</p>', html).group(1)
    assert finding.startswith(escape(rtext.cloud_recommendation(base, compared)))
    assert finding.endswith("No data for this region: ovh de-1.")


def test_regional_section_inlines_the_world_map_geometry(tmp_path):
    html = report.regional_section(regional_source(tmp_path).history().runs)
    script = re.search(r"<script>\(window\.PlotlyGeoAssets = (.*?)</script>", html).group(0)
    assignment = re.search(r"\.topojson\.world_110m = (.*);</script>$", script)
    inlined = json.loads(assignment.group(1).replace("<\\/", "</"))
    asset = json.loads((assets_dir() / "topojson" / "world_110m.json").read_text(encoding="utf-8"))
    assert inlined == asset
    drawn = re.search(r'Plotly\.newPlot\(\s*"chart-world-map"', html)
    assert html.index("PlotlyGeoAssets") < drawn.start()  # set before plotly.js draws the map


def test_regional_section_of_an_empty_view_says_so(tmp_path):
    html = report.regional_section(regional_source(tmp_path).history().runs.iloc[0:0])
    assert html.count('class="plotly-graph-div"') == 3  # the map of grid intensity still draws
    assert re.findall(r"<figcaption>(.*?)</figcaption>", html) == ["No runs in this selection."] * 3


def test_picked_runs_are_compared_side_by_side(tmp_path):
    source = regional_source(tmp_path)
    picked = Selection(run_ids=("run-2", "run-0"))
    html = report.build_report(source, picked, generated_at=STAMP)
    data, _ = plotted(html, "chart-run-comparison")
    assert [trace["name"] for trace in data] == ["CPU", "GPU", "RAM"]
    assert data[0]["x"] == ["p · run-2", "p · run-0"]
    section = re.search(r'<section id="comparison">.*?</section>', html, re.S).group(0)
    assert re.findall(r"<td>(run-\d)</td>", section) == ["run-2", "run-0"]
    assert "<h2>Compared runs</h2>" not in report.build_report(source, Selection(), STAMP)
    unknown = Selection(run_ids=("no-such-run",))
    assert 'id="comparison"' not in report.build_report(source, unknown, STAMP)


LINK = '<a href="https://attacker.example/">click</a>'


def test_a_1_mb_name_gives_a_report_of_normal_size(tmp_path) -> None:
    """Names are cut in every chart, table and title: a 1 MB project and experiment name add a
    few kilobytes, not megabytes (the whole name once made a 4.6 MB report)."""
    huge = LINK + "n" * 1_000_000
    sizes = {}
    for label, name in (("short", "nlp-bert"), ("huge", huge)):
        folder = tmp_path / label
        folder.mkdir()
        source = load_source(folder, {"project_name": [name] * 3, "experiment_id": [name] * 3})
        html = report.build_report(
            source, Selection(project=name, run_ids=("run-0", "run-1")), STAMP
        )
        sizes[label] = len(html.encode())
    assert sizes["huge"] - sizes["short"] < 60_000, sizes
    assert "n" * 200 not in html


def test_markup_in_names_is_text_in_every_report_chart(tmp_path) -> None:
    """plotly.js would draw ``<a href>`` in a name as a link; the report's figures hold it
    escaped, and the page's markup holds it escaped too."""
    source = load_source(
        tmp_path,
        {"project_name": [LINK, LINK, "other"], "experiment_id": [LINK, "e", LINK]},
    )
    html = report.build_report(source, Selection(run_ids=("run-0", "run-2")), STAMP)
    assert LINK not in html
    assert "attacker.example" in html  # the name is shown, as text
    figures_json = re.findall(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", html, re.S)
    assert figures_json, "the report draws its charts with Plotly.newPlot"
    texts = [json.dumps(json.loads(data), ensure_ascii=False) for data in figures_json]
    assert any('&lt;a href=\\"https://attacker.example/\\"&gt;click' in t for t in texts)
    assert not [t for t in texts if "<a " in t]
