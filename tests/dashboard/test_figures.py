"""Each figure is a pure function of an aggregate: checked without a browser."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from carbonboard import equivalents, figures
from carbonboard.data import aggregate
from carbonboard.data.store import HistoryStore
from carbonboard.theme import PLOTLY_TEMPLATE


@pytest.fixture
def runs(history_files):
    return HistoryStore(list(history_files), disk_cache=False).current().runs


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
    assert km["household_electricity_years"].text.endswith(
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
    history = HistoryStore(list(history_files), disk_cache=False).current()
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
