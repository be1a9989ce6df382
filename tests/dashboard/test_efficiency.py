"""The efficiency core on small known histories, read through the real loader."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carbonboard.data import loader
from carbonboard.efficiency import (
    Budget,
    best_split,
    budget_status,
    change_points,
    emissions_by_period,
    live_runs,
    metric_names,
    metrics_table,
    pareto,
    parse_budget,
    per_unit_experiments,
    per_unit_runs,
    period_bounds,
    quality_ranking,
    run_label,
    sweep_waste,
)
from tracker.schema import FIELDNAMES

from .conftest import CODECARBON_FIXTURES, START, run_row, write_csv

INTENSITY = 250.0  # g/kWh: a run's emissions in kg = its energy in kWh / 4


def run(run_id: str, emissions_kg: float, metrics: dict | str | None = None, **fields) -> dict:
    """A row emitting ``emissions_kg`` (all of it GPU energy at INTENSITY), logging ``metrics``."""
    cell = metrics if isinstance(metrics, str) else json.dumps(metrics) if metrics else ""
    return run_row(
        run_id=run_id,
        cpu_kwh=0.0,
        gpu_kwh=emissions_kg * 1000 / INTENSITY,
        ram_kwh=0.0,
        intensity_g_per_kwh=INTENSITY,
        metrics=cell,
        **fields,
    )


def load(tmp_path: Path, rows: list[dict]) -> pd.DataFrame:
    parsed = loader.parse(write_csv(tmp_path / "emissions.csv", rows))
    assert parsed.skipped == []
    return parsed.frame


# -- the metrics column --------------------------------------------------------------------------


def test_old_files_load_with_empty_metrics_and_new_ones_keep_the_text(tmp_path):
    old = loader.parse(CODECARBON_FIXTURES / "codecarbon-3.3.2.csv").frame
    assert old["metrics"].dtype == object and set(old["metrics"]) == {""}
    v1 = [f for f in FIELDNAMES if f != "metrics"]
    path = write_csv(tmp_path / "v1.csv", [run("a", 1.0), run("b", 2.0)], fieldnames=v1)
    assert list(loader.parse(path).frame["metrics"]) == ["", ""]
    runs = load(tmp_path, [run("a", 1.0, {"tokens": 300000, "accuracy": 0.93}), run("b", 1.0)])
    assert runs["metrics"].dtype == object
    assert list(runs["metrics"]) == ['{"tokens": 300000, "accuracy": 0.93}', ""]
    assert metrics_table(old).names == []


def test_metrics_table_expands_numbers_and_counts_what_it_skips(tmp_path):
    runs = load(
        tmp_path,
        [
            run("a", 1.0, {"tokens": 4000, "accuracy": 0.9}),
            run("b", 1.0, "not json"),
            run("c", 1.0, "[1, 2]"),
            run("d", 1.0, '{"accuracy": true, "note": "x", "loss": NaN, "big": 1e999, "ok": 2}'),
            run("e", 1.0),
        ],
    )
    table = metrics_table(runs)
    assert (table.bad_cells, table.bad_values) == (2, 4)
    assert table.names == metric_names(runs) == ["accuracy", "ok", "tokens"]
    assert table.values.index.equals(runs.index)
    values = table.values.set_axis(runs["run_id"])
    assert (values.loc["a", "accuracy"], values.loc["a", "tokens"]) == (0.9, 4000.0)
    assert math.isnan(values.loc["a", "ok"]) and values.loc["d", "ok"] == 2.0
    assert values.loc[["b", "c", "e"]].isna().all().all()
    assert (values.dtypes == "float64").all()


# -- per unit of work ----------------------------------------------------------------------------


def test_energy_and_co2_per_thousand_units_per_run_and_experiment(tmp_path):
    runs = load(
        tmp_path,
        [
            run("a", 0.5, {"tokens": 4000}, experiment="x"),  # 2 kWh
            run("b", 1.5, {"tokens": 2000}, experiment="x"),  # 6 kWh
            run("c", 0.001, {"tokens": 10}, experiment="y"),  # 4 Wh
            run("d", 1.0, {"tokens": 0}, experiment="y"),  # no work: left out
            run("e", 1.0, {"accuracy": 0.9}, experiment="y"),  # no tokens: left out
        ],
    )
    per_run = per_unit_runs(runs, "tokens")
    assert list(per_run["run_id"]) == ["c", "a", "b"]  # lowest CO2 per 1,000 tokens first
    a = per_run.set_index("run_id").loc["a"]
    assert (a["units"], a["energy_kwh"], a["emissions_kg"]) == (4000.0, 2.0, 0.5)
    assert a["energy_kwh_per_1k"] == pytest.approx(0.5, rel=1e-12)
    assert a["emissions_kg_per_1k"] == pytest.approx(0.125, rel=1e-12)
    assert (a["energy_per_1k_text"], a["emissions_per_1k_text"]) == ("500 Wh", "125 g CO₂eq")
    c = per_run.set_index("run_id").loc["c"]
    assert (c["energy_per_1k_text"], c["emissions_per_1k_text"]) == ("400 Wh", "100 g CO₂eq")
    per_experiment = per_unit_experiments(runs, "tokens").set_index("experiment_id")
    x = per_experiment.loc["x"]
    # Weighted: (0.5 + 1.5) kg over 6,000 tokens, not the mean of the two runs' ratios.
    assert (x["runs"], x["units"], x["emissions_kg"]) == (2, 6000.0, 2.0)
    assert x["emissions_kg_per_1k"] == pytest.approx(2.0 / 6, rel=1e-12)
    assert x["energy_kwh_per_1k"] == pytest.approx(8.0 / 6, rel=1e-12)
    assert x["emissions_per_1k_text"] == "333 g CO₂eq"
    assert list(per_experiment.index) == ["y", "x"]
    assert per_unit_runs(runs, "images").empty and per_unit_experiments(runs, "images").empty


# -- Pareto --------------------------------------------------------------------------------------

# (run, kg, accuracy): the front is i, a, b and b's exact twin f.
PARETO_RUNS = [
    ("a", 1.0, 0.90),
    ("b", 2.0, 0.95),
    ("c", 3.2, 0.90),  # same accuracy as a for 3.2x the CO2
    ("d", 2.0, 0.85),  # worse than a, for 2x the CO2
    ("e", 4.0, 0.95),  # same accuracy as b for 2x
    ("f", 2.0, 0.95),  # b's twin: neither dominates the other
    ("i", 0.25, 0.50),
    ("j", 1.0, 0.80),  # worse than a for the same CO2
]


def pareto_history(tmp_path: Path, name: str = "accuracy") -> pd.DataFrame:
    rows = [run(r, kg, {name: q, "tokens": 1000}, experiment="sweep") for r, kg, q in PARETO_RUNS]
    rows.append(run("live", 0.01, {name: 0.99}, status="running", experiment="sweep"))
    rows.append(run("nometric", 0.01, {"tokens": 5}, experiment="sweep"))
    return load(tmp_path, rows)


def test_the_pareto_front_and_the_dominated_runs_named(tmp_path):
    result = pareto(pareto_history(tmp_path), "accuracy", higher_is_better=True)
    assert list(result.front["run_id"]) == ["i", "a", "b", "f"]
    assert set(result.points["run_id"]) == {r for r, _, _ in PARETO_RUNS}  # not live, nometric
    assert result.sentences == [
        "run c: same accuracy as a for 3.2x the CO2",
        "run d: worse accuracy than a for 2x the CO2",
        "run e: same accuracy as b for 2x the CO2",
        "run j: worse accuracy than a for the same CO2",
    ]
    dominated = result.dominated.set_index("run_id")
    assert dominated.loc["c", "dominated_by"] == "a"
    assert dominated.loc["c", "co2_ratio"] == pytest.approx(3.2, rel=1e-12)
    assert result.points.set_index("run_id").loc["a", "dominated_by"] == ""


def test_lower_is_better_flips_the_quality_axis(tmp_path):
    runs = load(
        tmp_path,
        [
            run("cheap", 1.0, {"loss": 0.5}),
            run("costly-better", 3.0, {"loss": 0.3}),
            run("costly-worse", 2.0, {"loss": 0.6}),
        ],
    )
    result = pareto(runs, "loss", higher_is_better=False)
    assert list(result.front["run_id"]) == ["cheap", "costly-better"]
    assert result.sentences == ["run costly-worse: worse loss than cheap for 2x the CO2"]


def test_a_run_named_by_a_uuid_is_shortened_and_names_stay_plain_text(tmp_path):
    uuid_a, uuid_b = "1a2b3c4d-0000-4000-8000-000000000000", "5e6f7a8b-0000-4000-8000-000000000000"
    assert run_label(uuid_a) == "1a2b3c4d" and run_label("<b>x</b>") == "<b>x</b>"
    runs = load(tmp_path, [run(uuid_a, 1.0, {"acc": 0.9}), run(uuid_b, 3.0, {"acc": 0.9})])
    result = pareto(runs, "acc", higher_is_better=True)
    assert result.sentences == ["run 5e6f7a8b: same acc as 1a2b3c4d for 3x the CO2"]
    evil = load(tmp_path, [run("<i>x</i>", 1.0, {"acc": 0.9}), run("y&", 2.0, {"acc": 0.9})])
    assert pareto(evil, "acc", higher_is_better=True).sentences == [
        "run y&: same acc as <i>x</i> for 2x the CO2"
    ]


def test_a_dominator_that_emitted_nothing_and_unknown_metrics(tmp_path):
    runs = load(tmp_path, [run("zero", 0.0, {"acc": 0.9}), run("some", 1.0, {"acc": 0.9})])
    result = pareto(runs, "acc", higher_is_better=True)
    assert result.sentences == ["run some: same acc as zero while zero emitted no CO2"]
    empty = pareto(runs, "nope", higher_is_better=True)
    assert empty.points.empty and empty.front.empty and empty.sentences == []


def test_pareto_agrees_with_the_definition_on_random_runs(tmp_path):
    rng = np.random.default_rng(7)
    kg = np.round(rng.uniform(0, 5, 60), 1)  # rounded: many ties on both axes
    quality = np.round(rng.uniform(0, 1, 60), 1)
    runs = load(tmp_path, [run(f"r{i:02}", kg[i], {"q": quality[i]}) for i in range(60)])
    points = pareto(runs, "q", higher_is_better=True).points.set_index("run_id")
    for i in range(60):
        dominators = [
            j
            for j in range(60)
            if kg[j] <= kg[i]
            and quality[j] >= quality[i]
            and (kg[j], quality[j]) != (kg[i], quality[i])
        ]
        row = points.loc[f"r{i:02}"]
        assert row["on_front"] == (not dominators), i
        if dominators:
            lowest = min(kg[j] for j in dominators)
            assert kg[int(row["dominated_by"][1:])] == lowest  # the most clearly dominating


# -- ranking and sweep waste ---------------------------------------------------------------------


def test_experiments_ranked_by_co2_per_unit_of_quality(tmp_path):
    runs = load(
        tmp_path,
        [
            run("a1", 1.0, {"acc": 0.5}, experiment="a"),
            run("a2", 1.0, {"acc": 0.8}, experiment="a"),  # a: 2 kg / 0.8 = 2.5
            run("b1", 1.0, {"acc": 0.5}, experiment="b"),  # b: 1 kg / 0.5 = 2.0
            run("c1", 1.0, {"acc": 0.0}, experiment="c"),  # best quality 0: no ratio
        ],
    )
    ranking = quality_ranking(runs, "acc", higher_is_better=True)
    assert list(ranking["experiment_id"]) == ["b", "a"] and list(ranking["rank"]) == [1, 2]
    assert list(ranking["kg_per_quality"]) == pytest.approx([2.0, 2.5], rel=1e-12)
    assert list(ranking["best_quality"]) == [0.5, 0.8]
    losses = load(
        tmp_path,
        [
            run("a1", 2.0, {"loss": 0.5}, experiment="a"),  # 2 kg x 0.5 = 1.0
            run("b1", 1.0, {"loss": 1.5}, experiment="b"),  # 1 kg x 1.5 = 1.5
        ],
    )
    ranking = quality_ranking(losses, "loss", higher_is_better=False)
    assert list(ranking["experiment_id"]) == ["a", "b"]
    assert list(ranking["kg_per_quality"]) == pytest.approx([1.0, 1.5], rel=1e-12)


def test_sweep_waste_is_the_share_spent_on_runs_dominated_within_the_sweep(tmp_path):
    history = pareto_history(tmp_path)
    other = [run("o1", 1.0, {"accuracy": 0.9}, experiment="other")]  # dominates nothing here
    runs = pd.concat([history, load(tmp_path, other)], ignore_index=True)
    waste = sweep_waste(runs, "accuracy", higher_is_better=True).set_index("experiment_id")
    sweep = waste.loc["sweep"]
    total = sum(kg for _, kg, _ in PARETO_RUNS)  # 15.45 kg
    wasted = 3.2 + 2.0 + 4.0 + 1.0  # c, d, e, j
    assert (sweep["runs"], sweep["dominated_runs"]) == (8, 4)
    assert sweep["emissions_kg"] == pytest.approx(total, rel=1e-12)
    assert sweep["wasted_kg"] == pytest.approx(wasted, rel=1e-12)
    assert sweep["waste_share"] == pytest.approx(wasted / total, rel=1e-12)
    assert (waste.loc["other", "waste_share"], waste.loc["other", "dominated_runs"]) == (0.0, 0)
    assert list(waste.index) == ["sweep", "other"]


# -- trend ---------------------------------------------------------------------------------------


def test_emissions_per_week_and_month_with_quiet_periods_as_zero(tmp_path):
    monday = dt.datetime(2026, 3, 2, 10, tzinfo=dt.timezone.utc)
    rows = [
        run("w1a", 1.0, when=monday),
        run("w1b", 2.0, when=monday + dt.timedelta(days=6, hours=13)),  # Sunday 23:00
        run("w3", 4.0, when=monday + dt.timedelta(days=14)),
        run("x", 8.0, project="other", when=monday + dt.timedelta(days=31)),
    ]
    weekly = emissions_by_period(load(tmp_path, rows), "week")
    nlp = weekly[weekly["project_name"] == "nlp-bert"]
    assert [str(d.date()) for d in nlp["period_start"]] == [
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
    ]
    assert list(nlp["emissions_kg"]) == pytest.approx([3.0, 0.0, 4.0], rel=1e-12)
    assert list(nlp["runs"]) == [2, 0, 1]
    monthly = emissions_by_period(load(tmp_path, rows), "month")
    assert [
        (p, str(d.date()), kg)
        for p, d, kg in monthly[["project_name", "period_start", "emissions_kg"]].itertuples(
            index=False
        )
    ] == [
        ("nlp-bert", "2026-03-01", pytest.approx(7.0)),
        ("other", "2026-04-01", 8.0),
    ]
    assert str(nlp["period_start"].dt.tz) == "UTC"
    with pytest.raises(ValueError, match="period must be one of week, month"):
        emissions_by_period(load(tmp_path, rows), "day")


def test_the_change_marker_is_the_least_squares_split_shown_only_when_clear():
    assert best_split(np.array([1, 1, 1, 5, 5, 5])) == (3, 1.0)
    k, explained = best_split(np.array([1.0, 1.2, 0.8, 1.0, 3.0, 3.2, 2.8]))
    assert k == 4 and explained == pytest.approx(1 - 0.16 / (0.16 + 4 * 3 / 7 * 4), rel=1e-9)
    assert best_split(np.array([1.0, 2.0, 3.0])) is None  # too short for two segments of 2
    assert best_split(np.array([2.0] * 6)) is None  # flat
    weeks = pd.date_range("2026-03-02", periods=8, freq="7D", tz="UTC")
    jump = [1, 1.1, 0.9, 1, 4, 4.2, 3.8, 4]
    noise = [1, 1.3, 0.8, 1.2, 0.9, 1.1, 1.0, 1.2]
    series = pd.DataFrame(
        {
            "project_name": ["jump"] * 8 + ["noise"] * 8,
            "period_start": list(weeks) * 2,
            "emissions_kg": [*jump, *noise],
        }
    )
    (change,) = change_points(series)
    assert (change.project_name, change.at) == ("jump", weeks[4])
    assert (change.before_kg, change.after_kg) == pytest.approx((1.0, 4.0), rel=1e-12)
    assert change.explained > 0.9


# -- budgets -------------------------------------------------------------------------------------


def test_budget_specs_and_their_errors():
    assert parse_budget("nlp-bert=50kg") == Budget("nlp-bert", 50.0, "month")
    assert parse_budget("a=b=800g/week") == Budget("a=b", 0.8, "week")
    assert parse_budget(" vision = 1.5 T / year ") == Budget("vision", 1500.0, "year")
    for spec, message in [
        ("nlp-bert", "no '='"),
        ("=5kg", "no project"),
        ("p=50", "needs a unit"),
        ("p=50lb", "unknown unit 'lb'"),
        ("p=kg", "not an amount"),
        ("p=1.2.3kg", "'1.2.3' is not a number"),
        ("p=0kg", "must be a positive number"),
        ("p=-5kg", "not an amount"),
        ("p=5kg/day", "period 'day' is not one of week, month, year"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_budget(spec)


def test_period_bounds_are_calendar_periods_in_utc():
    now = pd.Timestamp("2026-11-10T12:00:00+01:00")
    assert period_bounds(now, "month") == (
        pd.Timestamp("2026-11-01", tz="UTC"),
        pd.Timestamp("2026-12-01", tz="UTC"),
    )
    assert period_bounds(now, "week") == (
        pd.Timestamp("2026-11-09", tz="UTC"),
        pd.Timestamp("2026-11-16", tz="UTC"),
    )
    assert period_bounds(now, "year")[1] == pd.Timestamp("2027-01-01", tz="UTC")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


def test_the_burn_down_and_the_forecast_arithmetic(tmp_path):
    rows = [
        run("oct", 100.0, when=at("2026-10-31T23:00")),  # the previous period
        run("n1", 2.0, when=at("2026-11-01T06:00")),
        run("n5", 3.0, when=at("2026-11-05T00:00")),
        run("n8", 1.0, when=at("2026-11-08T00:00")),
        run("n10", 0.5, when=at("2026-11-10T06:00")),
        run("later", 9.0, when=at("2026-11-11T00:00")),  # after now
        run("other", 7.0, project="other", when=at("2026-11-09T00:00")),
    ]
    runs = load(tmp_path, rows)
    status = budget_status(runs, parse_budget("nlp-bert=10kg"), pd.Timestamp("2026-11-10T12:00Z"))
    assert status.spent_kg == 6.5 and status.remaining_kg == 3.5
    # Window: the last 7 days, from Nov 3 12:00: n5, n8, n10 = 4.5 kg, i.e. 4.5 / 7 kg a day.
    assert status.recent_rate_kg_per_day == 4.5 / 7
    # 20.5 days to Dec 1: 6.5 + 4.5 / 7 x 20.5 = 19.678... kg
    assert status.forecast_kg == 6.5 + 4.5 / 7 * 20.5
    assert (status.over_budget, status.forecast_over) == (False, True)
    # 3.5 kg left at 4.5/7 kg a day: 5.444 days after now.
    assert status.exhausted_at == pd.Timestamp("2026-11-10T12:00Z") + pd.Timedelta(
        seconds=3.5 / (4.5 / 7) * 86400
    )
    burn = status.burn_down
    assert list(burn["spent_kg"]) == [0.0, 2.0, 5.0, 6.0, 6.5, 6.5]
    assert list(burn["remaining_kg"]) == [10.0, 8.0, 5.0, 4.0, 3.5, 3.5]
    assert burn["at"].iloc[0] == status.start and burn["at"].iloc[-1] == status.now
    assert list(status.forecast["kg"]) == [6.5, status.forecast_kg]
    assert status.forecast["at"].iloc[1] == pd.Timestamp("2026-12-01", tz="UTC")


def test_early_in_the_period_the_rate_is_over_the_time_since_it_began(tmp_path):
    runs = load(tmp_path, [run("a", 1.0, when=at("2026-11-01T12:00"))])
    budget = Budget("nlp-bert", 0.5, "month")
    status = budget_status(runs, budget, pd.Timestamp("2026-11-02T00:00Z"))
    assert status.recent_rate_kg_per_day == 1.0  # 1 kg over the 1 day since Nov 1
    assert status.forecast_kg == 1.0 + 1.0 * 29  # 29 days left
    assert status.over_budget and status.exhausted_at == status.now
    at_start = budget_status(runs, budget, pd.Timestamp("2026-11-01T00:00Z"))
    assert (at_start.spent_kg, at_start.recent_rate_kg_per_day, at_start.forecast_kg) == (0, 0, 0)
    assert at_start.exhausted_at is None and not at_start.forecast_over


# -- live runs -----------------------------------------------------------------------------------


def test_live_runs_with_elapsed_time_power_and_emissions_so_far(tmp_path):
    now = pd.Timestamp(START) + pd.Timedelta(seconds=10)
    rows = [
        run("live-long", 0.5, status="running", duration_s=3600.0, when=START),
        run("live-short", 0.1, status="running", duration_s=50.0, when=START),
        run("done", 1.0, status="finished", when=START),
    ]
    live = live_runs(load(tmp_path, rows), now)
    assert list(live["run_id"]) == ["live-long", "live-short"]
    short = live.set_index("run_id").loc["live-short"]
    assert short["elapsed_s"] == 60.0 and short["updated_s_ago"] == 10.0
    assert short["started_at"] == pd.Timestamp(START) - pd.Timedelta(seconds=50)
    # 0.1 kg at 250 g/kWh = 0.4 kWh of GPU over 50 s: 28.8 kW mean power
    assert short["power_w"] == pytest.approx(0.4 * 3.6e6 / 50, rel=1e-9)
    assert (short["elapsed_text"], short["power_text"]) == ("1 min", "28.8 kW")
    assert short["emissions_text"] == "100 g CO₂eq"
    assert live_runs(load(tmp_path, rows[2:]), now).empty
