"""Each figure is a pure function of an aggregate: checked without a browser."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from carbonboard import equivalents, figures
from carbonboard.data import aggregate
from carbonboard.data.store import HistoryStore
from carbonboard.formatting import run_labels
from carbonboard.regional import baseline as rbase
from carbonboard.regional import figures as rfig
from carbonboard.regional import tables as rtab
from carbonboard.theme import PLOTLY_TEMPLATE
from tracker.schema import TASK_FIELDNAMES

from .conftest import run_row, write_csv


@pytest.fixture
def runs(history_files):
    return HistoryStore(list(history_files), disk_cache=False).history().runs


def test_template_is_registered_with_the_bootstrap_font() -> None:
    template = pio.templates[PLOTLY_TEMPLATE]
    assert template.layout.font.family.startswith("system-ui")
    assert template.layout.colorway[0] == "#0d6efd"


def test_emissions_over_time_rescales_the_axis(runs) -> None:
    bert = runs[runs["project_name"] == "nlp-bert"]
    series = aggregate.emissions_series(bert)
    per_run = figures.emissions_over_time_figure(series, cumulative=False)
    assert isinstance(per_run, go.Figure)
    assert per_run.layout.title.text == "Emissions per run"
    assert per_run.layout.yaxis.title.text == "g CO₂eq"  # the largest run emits grams, not kg
    assert len(per_run.data[0].y) == 22
    assert max(per_run.data[0].y) == pytest.approx(series["emissions_kg"].max() * 1000)
    cumulative = figures.emissions_over_time_figure(series, cumulative=True)
    assert cumulative.layout.title.text == "Cumulative emissions"
    assert cumulative.data[0].y[-1] == pytest.approx(bert["emissions"].sum() * 1000)
    daily = figures.emissions_over_time_figure(
        aggregate.emissions_series(runs, daily_above=5), cumulative=False
    )
    assert daily.layout.title.text == "Emissions per day"
    assert daily.layout.yaxis.title.text == "kg CO₂eq"
    assert daily.data[0].type == "bar"  # a few days: one bar each


def test_a_year_of_days_is_one_filled_step_line_not_hundreds_of_bars() -> None:
    days = pd.date_range("2026-01-01", periods=365, freq="D", tz="UTC")
    runs = pd.DataFrame(
        {
            "timestamp": days.repeat(2),
            "emissions": 0.5,
            "energy_consumed": 2.0,
            "run_id": [f"r{i}" for i in range(730)],
            "experiment_id": "e",
        }
    )
    series = aggregate.emissions_series(runs, daily_above=10)
    figure = figures.emissions_over_time_figure(series, cumulative=False)
    (trace,) = figure.data
    assert (trace.type, trace.mode, trace.fill, trace.line.shape) == (
        "scatter",
        "lines",
        "tozeroy",
        "hv",
    )
    assert len(trace.y) == 365 and set(trace.y) == {1.0}  # two 0.5 kg runs a day, in kg
    assert figure.layout.title.text == "Emissions per day"
    go.Figure(figure.to_plotly_json())  # strict validation


def test_breakdown_figures(runs) -> None:
    split = figures.energy_split_figure(aggregate.energy_split(runs))
    assert list(split.data[0].labels) == ["CPU", "GPU", "RAM"]
    experiments = figures.experiments_figure(aggregate.per_experiment(runs))
    assert list(experiments.data[0].y)[-1] == "resnet50"  # largest at the top
    projects = figures.projects_figure(aggregate.per_project(runs))
    assert set(projects.data[0].y) == {"nlp-bert", "vision-resnet"}
    picked = aggregate.runs_by_id(runs, ["bert-000", "resnet-000"])
    compared = figures.comparison_figure(picked, ["a", "b"])
    assert [trace.name for trace in compared.data] == ["CPU", "GPU", "RAM"]
    assert compared.layout.barmode == "stack"


def test_empty_inputs_give_a_message_not_an_error(runs) -> None:
    empty = runs[:0]
    for figure in (
        figures.emissions_over_time_figure(aggregate.emissions_series(empty), cumulative=False),
        figures.energy_split_figure(aggregate.energy_split(empty)),
        figures.experiments_figure(aggregate.per_experiment(empty)),
        figures.comparison_figure(empty, []),
        figures.tasks_figure(empty),
    ):
        assert figure.data == ()
        assert figure.layout.annotations[0].text
    json.dumps(figure.to_plotly_json(), default=str)


def test_equivalents_cite_a_source_and_year() -> None:
    for factor in equivalents.factors():
        assert factor.source and factor.url.startswith("https://")
        assert 2015 <= factor.year <= 2030
        assert factor.kg_co2e_per_unit > 0
    km = {e.factor.key: e for e in equivalents.equivalents(1.066)}
    assert km["car_distance"].amount == pytest.approx(10.0)
    assert km["car_distance"].text == "10 km driven by an average new car"
    miles = {e.factor.key: e for e in equivalents.equivalents(1.066, "mi")}
    assert miles["car_distance"].amount == pytest.approx(10.0 / 1.609344)
    assert miles["car_distance"].unit == "mi"
    assert km["tree_months"].amount == pytest.approx(1.066 / 0.5)
    share = {e.factor.key: e for e in equivalents.equivalents(106.6)}
    assert share["household_electricity_years"].text.endswith(
        "% of a US home's annual electricity emissions"
    )


def every_overview_figure(runs, tasks) -> dict[str, go.Figure]:
    """Each builder in each of its forms, and in its empty state."""
    bert = runs[runs["project_name"] == "nlp-bert"]
    many = aggregate.emissions_series(runs, daily_above=5)
    return {
        "runs": figures.emissions_over_time_figure(
            aggregate.emissions_series(bert), cumulative=False
        ),
        "days": figures.emissions_over_time_figure(many, cumulative=False),
        "cumulative": figures.emissions_over_time_figure(many, cumulative=True),
        "split": figures.energy_split_figure(aggregate.energy_split(runs)),
        "experiments": figures.experiments_figure(aggregate.per_experiment(runs)),
        "projects": figures.projects_figure(aggregate.per_project(runs)),
        "comparison": figures.comparison_figure(runs.iloc[:2], ["a", "b"]),
        "tasks": figures.tasks_figure(tasks),
        "empty": figures.experiments_figure(aggregate.per_experiment(runs[:0])),
    }


def test_every_figure_passes_plotly_strict_validation(history_files) -> None:
    """Figures are built without plotly.py's validation (for speed); strict construction here
    raises on any unknown property or invalid value they set."""
    history = HistoryStore(list(history_files), disk_cache=False).history()
    assert not history.tasks.empty
    for name, figure in every_overview_figure(history.runs, history.tasks).items():
        spec = figure.to_plotly_json()
        go.Figure(spec)  # raises ValueError on anything plotly.js would not understand
        assert spec["layout"]["template"]["layout"]["colorway"][0] == "#0d6efd", name


def test_timeline_dates_reach_plotly_as_utc_wall_clock_times(runs) -> None:
    """plotly.js reads dates without an offset: the runs' UTC times are sent as such."""
    series = aggregate.emissions_series(runs[runs["project_name"] == "nlp-bert"])
    figure = figures.emissions_over_time_figure(series, cumulative=False)
    sent = json.loads(figure.to_json())["data"][0]["x"]
    first = series["timestamp"].iat[0].tz_convert("UTC")
    assert sent[0].startswith(first.strftime("%Y-%m-%dT%H:%M:%S"))
    assert "+" not in sent[0] and "Z" not in sent[0]


# A name that plotly.js would draw as a link, long enough to freeze a page were it drawn whole.
LINK = '<a href="https://attacker.example/">click</a> & <b>bold</b>'
HOSTILE = LINK + " " + "x" * (10 * 1024)


@pytest.fixture(scope="module")
def hostile_figures(tmp_path_factory) -> dict[str, tuple[go.Figure, bool]]:
    """Every figure builder, fed names that hold markup and run to 10 KB; the flag says whether
    the figure shows a name from the data."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    rows = [
        run_row(project=HOSTILE, experiment=HOSTILE + str(i), run_id=f"r{i}", country=c)
        for i, c in enumerate([("France", "FRA"), ("United States", "USA")] * 3)
    ]
    rows.append(run_row(project=HOSTILE + "-2", experiment=HOSTILE, run_id="r9"))
    rows[1].update(region="california", cloud_provider="gcp", cloud_region="us-central1")
    emissions = write_csv(tmp_path / "emissions.csv", rows)
    tasks = [{**rows[0], "task_name": HOSTILE + t} for t in ("a", "b")]
    tasks_path = write_csv(tmp_path / "tasks.csv", tasks, fieldnames=TASK_FIELDNAMES)
    history = HistoryStore([emissions, tasks_path], disk_cache=False).history()
    runs = history.runs
    base = rbase.baseline(runs)
    countries = rtab.country_table()
    countries = countries.assign(name=HOSTILE + countries["iso3"])
    states = rtab.subnational_table().assign(name=HOSTILE)
    cloud = rtab.cloud_table().assign(region=lambda t: HOSTILE + t["region"])
    ranking = rtab.country_ranking(base, countries)
    picked = runs.iloc[:2]
    built = {
        "timeline-runs": (
            figures.emissions_over_time_figure(aggregate.emissions_series(runs), cumulative=False),
            True,
        ),
        "timeline-cumulative": (
            figures.emissions_over_time_figure(aggregate.emissions_series(runs), cumulative=True),
            True,
        ),
        "split": (figures.energy_split_figure(aggregate.energy_split(runs)), False),
        "experiments": (figures.experiments_figure(aggregate.per_experiment(runs)), True),
        "projects": (figures.projects_figure(aggregate.per_project(runs)), True),
        "comparison": (figures.comparison_figure(picked, run_labels(picked)), True),
        "tasks": (figures.tasks_figure(history.tasks), True),
        "ranking": (rfig.ranking_figure(ranking), True),
        "mix": (rfig.energy_mix_figure(countries, ["FRA", "POL"]), True),
        "subnational": (
            rfig.subnational_figure(rtab.subnational_comparison(base, states, "USA"), base),
            True,
        ),
        "cloud": (rfig.cloud_figure(rtab.cloud_comparison(base, cloud), base), True),
    }
    for mode in rfig.MAP_MODES:
        built[f"map-{mode}"] = (rfig.world_map_figure(base, countries, mode), True)
    return built


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):  # "bdata": a numeric array, base64-encoded
        return [s for k, v in value.items() if k != "bdata" for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


HOSTILE_FIGURES = (
    "timeline-runs",
    "timeline-cumulative",
    "split",
    "experiments",
    "projects",
    "comparison",
    "tasks",
    "ranking",
    "mix",
    "subnational",
    "cloud",
    "map-intensity",
    "map-emissions",
    "map-low_carbon",
)


@pytest.mark.parametrize("name", HOSTILE_FIGURES)
def test_names_are_plain_text_and_cut_in_every_figure(hostile_figures, name) -> None:
    """A name with markup is drawn as written (plotly.js would make ``<a href>`` a link), and
    a 10 KB name is cut: no text in the figure carries it whole."""
    built = hostile_figures
    assert sorted(built) == sorted(HOSTILE_FIGURES)
    figure, shows_a_name = built[name]
    spec = json.loads(figure.to_json())
    spec["layout"].pop("template")
    texts = _strings(spec)
    assert not [t for t in texts if "<a" in t or "<b>bold" in t], name
    assert max(len(t) for t in texts) < 1000, name
    escaped = '&lt;a href="https://attacker.example/"&gt;'
    assert any(escaped in t for t in texts) is shows_a_name, name
    go.Figure(figure.to_plotly_json())  # still valid for plotly


def test_long_names_that_start_alike_stay_separate_bars(hostile_figures) -> None:
    """Seven experiments whose names share their first 10 KB: seven bars, seven labels."""
    figure, _ = hostile_figures["experiments"]
    labels = list(figure.data[0].y)
    assert len(labels) == len(set(labels)) == 7
    assert all(len(label) < 250 for label in labels)
