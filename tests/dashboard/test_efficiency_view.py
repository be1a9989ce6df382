"""The efficiency tab and the live runs list: figure builders, callbacks, URL state, --budget.

The arithmetic is the core's (tests/dashboard/test_efficiency.py); here: the view wires it, names
stay plain text, and every figure passes plotly's strict validation.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from click.testing import CliRunner

from carbonboard import ids
from carbonboard.app import create_app
from carbonboard.cli import main
from carbonboard.data.store import HistoryStore
from carbonboard.efficiency import (
    budget_status,
    change_points,
    emissions_by_period,
    live_runs,
    pareto,
    parse_budget,
    per_unit_experiments,
)
from carbonboard.efficiency import figures as eff_figures
from carbonboard.efficiency.config import load_budgets
from carbonboard.efficiency.views import budget_selection, resolve_choices
from carbonboard.export import metrics_value, runs_to_csv, runs_to_json
from carbonboard.report import build_report
from carbonboard.selection import Selection, ViewOptions, to_query, view_from_query

from .conftest import run_row, write_csv
from .test_callbacks import call
from .test_cli import assert_one_line_error

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)
HOSTILE = "<img src=x onerror=alert(1)>"


def sweep_rows() -> list[dict]:
    """A sweep whose front is known: a and b on it; c the same accuracy as a for 3.2x the CO2,
    d worse than a for 2.5x (100 g/kWh, so emissions = kWh / 10)."""

    def run(run_id, kwh, accuracy, tokens, day, experiment="sweep"):
        return run_row(
            run_id=run_id,
            project="nlp",
            experiment=experiment,
            when=T0 + dt.timedelta(days=day),
            cpu_kwh=0.0,
            gpu_kwh=kwh,
            ram_kwh=0.0,
            intensity_g_per_kwh=100.0,
            metrics=json.dumps({"accuracy": accuracy, "tokens": tokens}),
        )

    return [
        run("a", 1.0, 0.90, 1000, 0),
        run("b", 2.0, 0.95, 4000, 1),
        run("c", 3.2, 0.90, 1000, 2),
        run("d", 2.5, 0.80, 500, 3),
        run_row(project="plain", run_id="p1", when=T0),
    ]


@pytest.fixture
def sweep_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "emissions.csv", sweep_rows())


@pytest.fixture
def runs(sweep_csv) -> pd.DataFrame:
    return HistoryStore([sweep_csv], disk_cache=False).history().runs


def strictly_valid(figure: go.Figure) -> dict:
    spec = figure.to_plotly_json()
    go.Figure(spec)  # raises on anything plotly.js would not understand
    return spec


def test_every_efficiency_figure_passes_strict_validation(runs) -> None:
    result = pareto(runs, "accuracy", higher_is_better=True)
    series = emissions_by_period(runs, "week")
    status = budget_status(runs, parse_budget("nlp=1kg"), pd.Timestamp("2026-11-20", tz="UTC"))
    figures = {
        "per unit": eff_figures.per_unit_figure(per_unit_experiments(runs, "tokens"), "tokens"),
        "per unit, empty": eff_figures.per_unit_figure(per_unit_experiments(runs, "x"), "x"),
        "pareto": eff_figures.pareto_figure(result),
        "pareto, empty": eff_figures.pareto_figure(pareto(runs, "x", higher_is_better=True)),
        "trend": eff_figures.trend_figure(series, change_points(series), "week"),
        "burn-down": eff_figures.burn_down_figure(status),
    }
    for name, figure in figures.items():
        spec = strictly_valid(figure)
        assert spec["layout"]["template"]["layout"]["colorway"][0] == "#0d6efd", name


def test_pareto_figure_draws_the_front_and_greys_the_dominated(runs) -> None:
    figure = eff_figures.pareto_figure(pareto(runs, "accuracy", higher_is_better=True))
    dominated, front = figure.data
    assert front.name == "Pareto front" and list(front.y) == [0.90, 0.95]
    assert list(front.x) == pytest.approx([100.0, 200.0])  # grams: the axis is rescaled
    assert figure.layout.xaxis.title.text == "g CO₂eq"
    assert sorted(dominated.y) == [0.80, 0.90]
    assert any("3.2x the CO2" in text for text in dominated.hovertext)


def test_per_unit_figure_names_are_plain_text(tmp_path) -> None:
    rows = [
        run_row(project=HOSTILE, experiment="e", metrics='{"tokens": 2000}', when=T0),
    ]
    runs = HistoryStore([write_csv(tmp_path / "e.csv", rows)], disk_cache=False).history().runs
    figure = eff_figures.per_unit_figure(per_unit_experiments(runs, "tokens"), "tokens")
    sent = json.dumps(strictly_valid(figure))
    assert "<img" not in sent  # plotly would draw markup; escaped, it stays text
    assert "&lt;img" in sent


def test_burn_down_shows_spend_forecast_and_limit(runs) -> None:
    now = pd.Timestamp("2026-11-06", tz="UTC")
    status = budget_status(runs, parse_budget("nlp=1kg"), now)
    figure = eff_figures.burn_down_figure(status)
    spent, forecast, limit = figure.data
    assert (spent.name, forecast.name, limit.name) == ("spent", "forecast", "budget")
    assert figure.layout.yaxis.title.text == "kg CO₂eq"  # the largest value drawn is kilograms
    assert spent.y[-1] == pytest.approx(0.1 + 0.2 + 0.32 + 0.25)
    assert list(limit.y) == [1.0, 1.0]
    assert forecast.y[-1] == pytest.approx(status.forecast_kg) and status.forecast_kg > 1.0
    assert forecast.line.color == eff_figures.LIMIT_COLOR  # forecast over the budget


def test_view_options_keep_metrics_in_the_url() -> None:
    view = ViewOptions(tab=ids.TAB_EFFICIENCY, unit="tokens", quality="wer", better="lower")
    query = to_query(Selection(), view)
    assert query == "?tab=efficiency&unit=tokens&quality=wer&better=lower"
    assert view_from_query(query) == (view, [])
    odd, notices = view_from_query("?unit=a%26b&better=sideways&period=decade")
    assert odd.unit == "a&b"  # any metric name is taken; the view falls back when unknown
    assert len(notices) == 2


def test_choices_fall_back_and_guess_the_direction() -> None:
    names = ["accuracy", "loss", "tokens"]
    chosen = resolve_choices(names, "ghost", None, None, guess=False)
    assert (chosen.unit, chosen.quality, chosen.higher) == ("tokens", "accuracy", True)
    assert not resolve_choices(names, None, "loss", None, guess=True).higher
    assert resolve_choices(names, None, "loss", "higher", guess=False).higher
    assert resolve_choices([], None, None, None, guess=False).unit is None


@pytest.fixture
def app(sweep_csv):
    source = HistoryStore.from_arguments([str(sweep_csv)], disk_cache=False)
    return create_app(source, refresh_interval_s=0, budgets=[parse_budget("nlp=500g/year")])


def efficiency(app, selection: Selection, **values):
    inputs = {
        f"{ids.EFFICIENCY_TAB_SELECTION}.data": selection.to_dict(),
        f"{ids.URL}.search": "",
        **{f"{key}.value": value for key, value in values.items()},
    }
    response = call(app, f"{ids.EFFICIENCY_EMPTY}.is_open", inputs)
    assert response.status_code == 200
    return response.get_json()["response"]


def test_the_view_names_the_dominated_runs(app) -> None:
    out = efficiency(app, Selection(project="nlp"))
    assert out[ids.EFFICIENCY_EMPTY]["is_open"] is False
    assert out[ids.EFFICIENCY_UNIT]["value"] == "tokens"
    assert out[ids.EFFICIENCY_QUALITY]["value"] == "accuracy"
    sentences = [li["props"]["children"] for li in out[ids.EFFICIENCY_DOMINATED]["children"]]
    assert sentences == [
        "run c: same accuracy as a for 3.2x the CO2",
        "run d: worse accuracy than a for 2.5x the CO2",
    ]
    waste = json.dumps(out[ids.EFFICIENCY_WASTE]["children"])
    assert "2 of 4" in waste and "66%" in waste  # (320 + 250) g of 870 g


def test_the_unit_picked_gives_per_unit_figures(app) -> None:
    out = efficiency(app, Selection(project="nlp"), **{ids.EFFICIENCY_UNIT: "accuracy"})
    table = json.dumps(out[ids.EFFICIENCY_PER_UNIT_TABLE]["children"], ensure_ascii=False)
    assert "CO₂ / 1,000 accuracy" in table
    # 870 g over 3.55 accuracy: 245 kg per 1,000
    assert "245 kg CO₂eq" in table
    assert "value" not in out[ids.EFFICIENCY_UNIT]  # the value asked for is kept


def test_budget_burn_down_and_warning(app) -> None:
    out = efficiency(app, Selection(project="nlp"))
    budgets = json.dumps(out[ids.EFFICIENCY_BUDGETS]["children"], ensure_ascii=False)
    assert "nlp is over budget: 870 g CO₂eq of 500 g CO₂eq spent this year." in budgets
    assert '"name": "forecast"' in budgets


def test_no_metrics_teaches_the_line_that_adds_them(app) -> None:
    out = efficiency(app, Selection(project="plain"))
    assert out[ids.EFFICIENCY_EMPTY]["is_open"] is True
    assert out[ids.EFFICIENCY_UNIT]["options"] == []
    page = app.server.test_client().get("/_dash-layout").get_data(as_text=True)
    assert "tracker.log_metrics(accuracy=..., tokens=...)" in page


def test_live_runs_list_only_runs_in_progress(tmp_path) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    path = write_csv(
        tmp_path / "emissions.csv",
        [
            run_row(run_id="live-run", status="running", when=now, project=HOSTILE),
            run_row(run_id="done", when=now),
        ],
    )
    source = HistoryStore.from_arguments([str(path)], disk_cache=False)
    app = create_app(source, refresh_interval_s=0)
    out = call(app, f"{ids.LIVE_LIST}.children", {}).get_json()["response"]
    listed = json.dumps(out[ids.LIVE_LIST]["children"], ensure_ascii=False)
    assert "Running now: 1 run" in listed and "live-run" in listed and "done" not in listed
    assert HOSTILE[:20] in listed  # a text child: Dash escapes it, never markup
    live = live_runs(source.running_runs(), pd.Timestamp(now))
    assert live["power_w"].iat[0] == pytest.approx(0.46 * 3.6e6 / 3600)


def test_budgets_from_the_command_line_and_the_config_file(tmp_path) -> None:
    config = tmp_path / ".carbonboard.config"
    config.write_text("[carbonboard]\nbudgets =\n    nlp=50kg\n    vision = 2kg/week\n")
    budgets = load_budgets(("nlp=1t/year",), config)
    assert [(b.project_name, b.limit_kg, b.period) for b in budgets] == [
        ("nlp", 1000.0, "year"),  # the command line replaces the file's budget for nlp
        ("vision", 2.0, "week"),
    ]
    assert load_budgets((), tmp_path / "absent.config") == []


def test_a_bad_budget_is_one_line(sweep_csv) -> None:
    result = CliRunner().invoke(main, ["--filepath", str(sweep_csv), "--budget", "nlp=50"])
    assert_one_line_error(result, "--budget 'nlp=50'", "PROJECT=AMOUNT")


def test_downloads_carry_the_metrics(runs) -> None:
    document = json.loads(runs_to_json(runs))
    by_id = {run["run_id"]: run["metrics"] for run in document["runs"]}
    assert by_id["c"] == {"accuracy": 0.9, "tokens": 1000}  # an object, not a string
    assert by_id["p1"] is None
    assert '"{""accuracy"": 0.9, ""tokens"": 1000}"' in runs_to_csv(runs)


def test_a_metrics_cell_that_is_not_an_object_is_kept_as_written() -> None:
    assert metrics_value('{"loss": NaN}') == '{"loss": NaN}'  # JSON has no NaN: kept as text
    assert metrics_value("[1, 2]") == "[1, 2]"
    assert metrics_value('{"cut": 0.') == '{"cut": 0.'
    assert metrics_value("") is None


def test_the_report_has_the_efficiency_section(sweep_csv) -> None:
    source = HistoryStore([sweep_csv], disk_cache=False)
    stamp = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    html = build_report(
        source, Selection(project="nlp"), stamp, budgets=[parse_budget("nlp=500g/year")]
    )
    section = html[html.index('<section id="efficiency">') :]
    section = section[: section.index("</section>")]
    assert "<li>run c: same accuracy as a for 3.2x the CO2</li>" in section
    assert 'id="chart-efficiency-pareto"' in section
    assert "CO₂ / 1,000 tokens" in section
    assert "nlp is over budget: 870 g CO₂eq of 500 g CO₂eq spent this year." in section
    assert 'class="budget budget-danger"' in section
    assert 'id="chart-budget-0"' in section


def test_the_report_leaves_it_out_without_metrics_and_escapes_names(tmp_path) -> None:
    plain = write_csv(tmp_path / "plain.csv", [run_row(project="plain")])
    report = build_report(HistoryStore([plain], disk_cache=False), Selection())
    assert 'id="efficiency"' not in report
    hostile = write_csv(
        tmp_path / "hostile.csv",
        [run_row(project=HOSTILE, metrics=json.dumps({HOSTILE: 0.5, "tokens": 10}))],
    )
    report = build_report(HistoryStore([hostile], disk_cache=False), Selection())
    assert 'id="efficiency"' in report
    assert HOSTILE not in report
    assert "&lt;img src=x" in report


def test_a_bad_budget_in_the_config_file_is_one_line(tmp_path, sweep_csv, monkeypatch) -> None:
    (tmp_path / ".carbonboard.config").write_text("[carbonboard]\nbudgets = nlp=lots\n")
    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / "r.html")
    result = CliRunner().invoke(main, ["report", "--filepath", str(sweep_csv), "--out", out])
    assert result.exit_code != 0
    assert result.stderr.strip().count("\n") == 0
    assert ".carbonboard.config 'nlp=lots'" in result.stderr


def test_trend_marks_where_the_rate_moved() -> None:
    weeks = pd.date_range("2026-09-07", periods=6, freq="7D", tz="UTC")
    series = pd.DataFrame(
        {
            "project_name": "nlp",
            "period_start": weeks,
            "emissions_kg": [1.0, 1.0, 1.0, 5.0, 5.0, 5.0],
            "runs": 2,
        }
    )
    markers = change_points(series)
    assert [m.at for m in markers] == [weeks[3]]
    figure = eff_figures.trend_figure(series, markers, "week")
    strictly_valid(figure)
    assert figure.layout.shapes[0].line.dash == "dot"
    assert figure.layout.annotations[0].text == "nlp: 1 kg CO₂eq → 5 kg CO₂eq per week"
    assert list(figure.data[0].y) == [1.0, 1.0, 1.0, 5.0, 5.0, 5.0]


def test_a_budget_reads_only_its_period_of_its_project() -> None:
    now = pd.Timestamp("2026-11-20 15:00", tz="UTC")
    assert budget_selection(parse_budget("nlp=1kg/week"), now) == Selection(
        project="nlp", date_from="2026-11-16"
    )
    assert budget_selection(parse_budget("nlp=1kg"), now).date_from == "2026-11-01"
