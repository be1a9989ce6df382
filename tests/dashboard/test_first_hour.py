"""What a new user hit in the first hour: repeated cards, silent omissions, odd numbers."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from carbonboard import ids, report
from carbonboard.app import create_app
from carbonboard.data.store import HistoryStore
from carbonboard.figures import NO_DATA, TOP_GROUPS, energy_split_figure, projects_figure
from carbonboard.formatting import format_mass_kg, format_more
from carbonboard.sections.comparison import experiments_table, left_out_note
from carbonboard.sections.project import repeats_the_totals
from carbonboard.selection import Selection

from .conftest import run_row, write_csv
from .test_callbacks import call


@pytest.fixture(scope="module")
def app(module_history):
    source = HistoryStore.from_arguments([str(p) for p in module_history], disk_cache=False)
    return create_app(source, refresh_interval_s=0)


def test_the_whole_history_shows_its_cards_once() -> None:
    assert repeats_the_totals(Selection())
    assert repeats_the_totals(Selection(run_ids=("a",)))  # picked runs change no total
    assert not repeats_the_totals(Selection(project="nlp-bert"))
    assert not repeats_the_totals(Selection(date_from="2026-03-02"))


def test_the_project_cards_hide_for_all_projects_and_show_for_one(app) -> None:
    def cards_class(selection: dict) -> str:
        out = call(
            app, f"{ids.PROJECT_TITLE}.children", {f"{ids.OVERVIEW_TAB_SELECTION}.data": selection}
        ).get_json()["response"]
        return out[ids.PROJECT_TOTALS]["className"]

    assert cards_class({}) == "d-none"
    assert "d-none" not in cards_class({"project": "vision-resnet"})


def test_a_run_without_gpu_gets_no_gpu_slice() -> None:
    split = pd.DataFrame({"component": ["CPU", "GPU", "RAM"], "energy_kwh": [0.3, 0.0, 0.1]})
    (donut,) = energy_split_figure(split).data
    assert list(donut.labels) == ["CPU", "RAM"]
    assert list(donut.values) == [0.3, 0.1]
    nothing = pd.DataFrame({"component": ["CPU", "GPU"], "energy_kwh": [0.0, 0.0]})
    assert energy_split_figure(nothing).layout.annotations[0].text == NO_DATA


def test_the_experiment_comparison_names_what_it_leaves_out() -> None:
    per = pd.DataFrame(
        {
            "experiment": [f"exp-{i:02d}" for i in range(15)],
            "runs": [1] * 15,
            "emissions_kg": [float(15 - i) for i in range(15)],
            "energy_kwh": [1.0] * 15,
            "duration_s": [60.0] * 15,
        }
    )
    text = str(experiments_table(per))
    assert "exp-11" in text and "The 12 experiments with the most emissions of 15" in text
    assert "left out: exp-12, exp-13, exp-14 (6 kg CO₂eq together)" in text
    many = pd.concat([per] * 2, ignore_index=True).assign(experiment=[f"e{i}" for i in range(30)])
    assert "left out: e12, e13, e14, e15, e16 and 13 more" in left_out_note(many, 12)
    assert left_out_note(per.head(12), 12) == ""


def per_group(count: int, name: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: [f"{name}-{i:04d}" for i in range(count)],
            "runs": [1] * count,
            "emissions_kg": [float(count - i) for i in range(count)],
            "energy_kwh": [1.0] * count,
            "duration_s": [60.0] * count,
        }
    )


def test_a_thousand_projects_chart_the_top_fifteen_and_say_how_many_more() -> None:
    projects = per_group(1000, "project")
    figure = projects_figure(projects)
    assert len(figure.data[0].y) == TOP_GROUPS and figure.layout.height <= 640
    assert len(projects_figure(projects, top=None).data[0].y) == 1000
    rest_kg = float(projects["emissions_kg"].iloc[TOP_GROUPS:].sum())
    assert format_more(projects, TOP_GROUPS, "projects") == (
        f"… and 985 more projects ({format_mass_kg(rest_kg)} together)"
    )
    assert format_more(projects, None, "projects") == ""
    assert format_more(projects.head(3), TOP_GROUPS, "projects") == ""


def test_the_totals_chart_shows_every_project_on_demand(tmp_path) -> None:
    rows = [run_row(project=f"project-{i:02d}", run_id=f"run-{i:02d}") for i in range(20)]
    path = write_csv(tmp_path / "emissions.csv", rows)
    many = create_app(HistoryStore([path], disk_cache=False), refresh_interval_s=0)

    def totals(show_all: bool) -> dict:
        return call(
            many,
            f"{ids.TOTALS_CARDS}.cards",
            {f"{ids.DATA_VERSION}.data": 1, f"{ids.TOTALS_SHOW_ALL}.value": show_all},
        ).get_json()["response"]

    top, every = totals(False), totals(True)
    assert len(top[ids.TOTALS_PROJECTS_GRAPH]["figure"]["data"][0]["y"]) == TOP_GROUPS
    assert top[ids.TOTALS_PROJECTS_MORE]["children"].startswith("… and 5 more projects (")
    assert len(every[ids.TOTALS_PROJECTS_GRAPH]["figure"]["data"][0]["y"]) == 20
    assert every[ids.TOTALS_PROJECTS_MORE]["children"] == ""


def test_the_report_says_how_many_projects_its_chart_leaves_out(tmp_path) -> None:
    rows = [run_row(project=f"project-{i:02d}", run_id=f"run-{i:02d}") for i in range(20)]
    runs = HistoryStore([write_csv(tmp_path / "emissions.csv", rows)], disk_cache=False)
    every = runs.selected_runs(Selection())
    html = str(report.charts_section(every, Selection()))
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html)
    assert len(captions) == 1 and captions[0].startswith("… and 5 more projects (")
    one = str(report.charts_section(every.head(3), Selection(project="project-00")))
    assert "<figcaption>" not in one
