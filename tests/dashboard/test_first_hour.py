"""What a new user hit in the first hour: repeated cards, silent omissions, odd numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from carbonboard import ids
from carbonboard.app import create_app
from carbonboard.data.store import HistoryStore
from carbonboard.figures import NO_DATA, energy_split_figure
from carbonboard.sections.comparison import experiments_table, left_out_note
from carbonboard.sections.project import repeats_the_totals
from carbonboard.selection import Selection

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
