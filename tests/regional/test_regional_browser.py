"""The regional section in a real headless browser, with every non-local request blocked."""

from __future__ import annotations

import csv
import json

import pytest

from carbonboard import ids
from tracker.schema import FIELDNAMES

pytestmark = pytest.mark.browser

# On-premise sites, sub-national grids, a cloud region we know and one we do not.
RUNS = [
    # project, country, region, cloud provider, cloud region, energy kWh, pue
    ("vision", "FRA", "", "", "", 2.0, 1.0),
    ("vision", "POL", "", "", "", 1.0, 1.0),
    ("llm", "USA", "california", "", "", 3.0, 1.2),
    ("llm", "USA", "iowa", "gcp", "us-central1", 4.0, 1.1),
    ("llm", "DEU", "", "ovh", "de-1", 0.5, 1.0),
]


@pytest.fixture(scope="module")
def base_url(serve_app, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("regional") / "emissions.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDNAMES)
        writer.writeheader()
        for i, (project, country, region, provider, cloud_region, energy, pue) in enumerate(RUNS):
            writer.writerow(
                {
                    "timestamp": f"2026-05-0{i + 1}T10:00:00+00:00",
                    "project_name": project,
                    "run_id": f"00000000-0000-0000-0000-00000000000{i}",
                    "experiment_id": "main",
                    "duration": 3600.0,
                    "emissions": energy * 0.4,
                    "energy_consumed": energy,
                    "country_iso_code": country,
                    "region": region,
                    "cloud_provider": provider,
                    "cloud_region": cloud_region,
                    "on_cloud": "Y" if provider else "N",
                    "pue": pue,
                    "status": "finished",
                    "schema_version": 1,
                }
            )
    return serve_app([path])


def open_offline(page, url: str) -> list[str]:
    """Load the page with every request that is not for 127.0.0.1 aborted; return those."""
    blocked: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith("http://127.0.0.1"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(url)
    return blocked


def plotly_value(page, graph_id: str, expression: str):
    """Evaluate ``expression`` on the plotly div inside the dcc.Graph ``graph_id``."""
    return page.evaluate(
        f"() => {{ const gd = document.querySelector('#{graph_id} .js-plotly-plot'); "
        f"return gd ? {expression} : null; }}"
    )


def colorbar_title(page) -> str | None:
    return plotly_value(page, ids.REGIONAL_MAP, "gd.data[0].colorbar.title.text")


def test_world_map_draws_offline_and_the_toggle_changes_its_scale(page, base_url):
    blocked = open_offline(page, f"{base_url}/?tab=regional")
    page.wait_for_function(
        f"document.querySelectorAll('#{ids.REGIONAL_MAP} path.choroplethlocation').length > 150",
        timeout=30_000,
    )
    drawn = page.locator(f"#{ids.REGIONAL_MAP} path.choroplethlocation").count()
    assert drawn > 150
    assert colorbar_title(page) == "grid intensity (gCO2e/kWh)"
    assert (
        page.locator(f"#{ids.REGIONAL_MAP} .cbtitle").text_content() == "grid intensity (gCO2e/kWh)"
    )
    intensity_max = plotly_value(page, ids.REGIONAL_MAP, "gd.data[0].zmax")

    page.get_by_text("Your emissions there", exact=True).click()
    page.wait_for_function(
        f"document.querySelector('#{ids.REGIONAL_MAP} .cbtitle').textContent"
        ".endsWith(' CO2e had it run there')",
        timeout=10_000,
    )
    assert plotly_value(page, ids.REGIONAL_MAP, "gd.data[0].zmax") != intensity_max
    markers = plotly_value(page, ids.REGIONAL_MAP, "gd.data[1].locations")
    assert set(markers) == {"FRA", "POL", "USA", "DEU"}
    assert page.url.endswith("/?tab=regional&map=emissions")
    page.reload()  # the toggle is in the address: a reload keeps it
    page.wait_for_function(
        f"document.querySelector('#{ids.REGIONAL_MAP} .cbtitle')?.textContent"
        ".endsWith(' CO2e had it run there')",
        timeout=30_000,
    )
    assert page.is_checked(f"#{ids.REGIONAL_MAP_MODE} input[value=emissions]")

    page.get_by_text("Low-carbon share", exact=True).click()
    page.wait_for_function(
        f"document.querySelector('#{ids.REGIONAL_MAP} .cbtitle').textContent"
        " === 'low-carbon share of generation (%)'",
        timeout=10_000,
    )
    assert page.console_errors == []
    assert page.failed_requests == []
    assert blocked == []


def test_every_view_renders_with_its_assumptions(page, base_url):
    open_offline(page, f"{base_url}/?tab=regional")
    page.wait_for_function(
        f"document.querySelectorAll('#{ids.REGIONAL_CLOUD} .bars path').length > 15", timeout=30_000
    )
    for graph_id in (ids.REGIONAL_RANKING, ids.REGIONAL_MIX, ids.REGIONAL_SUBNATIONAL):
        page.wait_for_function(  # each view answers on its own: wait for all to be drawn
            f"document.querySelector('#{graph_id} .js-plotly-plot')?.data?.length > 0",
            timeout=30_000,
        )
    ranking = plotly_value(page, ids.REGIONAL_RANKING, "gd.data[0].y")
    assert len(ranking) == 11 and "Your runs" in ranking
    mix = plotly_value(page, ids.REGIONAL_MIX, "gd.data.map(t => t.name)")
    assert mix == ["coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "other renewables"]
    states = plotly_value(page, ids.REGIONAL_SUBNATIONAL, "gd.data[0].y")
    assert len(states) > 40 and "California (yours)" in states and "Iowa (yours)" in states
    recommendation = page.locator(f"#{ids.REGIONAL_CLOUD_RECOMMENDATION}").inner_text()
    assert recommendation.startswith("In GCP ") and "would have emitted" in recommendation
    assert "No data for this region: ovh de-1." in recommendation
    cloud_note = page.locator(f"#{ids.REGIONAL_CLOUD_NOTE}").inner_text()
    assert "AWS 1.15" in cloud_note and "GCP 1.10" in cloud_note and "Azure 1.18" in cloud_note
    assert "Mixed bases: " in cloud_note and "operational (" in cloud_note  # Google beside grids
    assert cloud_note.startswith("… and ") and " more regions, not charted" in cloud_note
    # the energy replayed and where the runs ran: said once, under the map
    notes = (ids.REGIONAL_MAP_NOTE, ids.REGIONAL_RANKING_NOTE, ids.REGIONAL_SUBNATIONAL_NOTE)
    said = ["Same energy everywhere" in page.locator(f"#{note}").inner_text() for note in notes]
    assert said == [True, False, False]

    countries = page.locator(f"#{ids.REGIONAL_SUBNATIONAL_COUNTRY} label").all_inner_texts()
    assert countries == ["US states"]  # Germany has no sub-national data, no run is in Canada
    page.locator(f"#{ids.REGIONAL_CLOUD_PROVIDER}").get_by_text("AWS", exact=True).click()
    page.wait_for_function(
        f"document.querySelector('#{ids.REGIONAL_CLOUD} .js-plotly-plot').data[0].y"
        ".every(label => label.startsWith('AWS '))",
        timeout=10_000,
    )
    assert page.url.endswith("/?tab=regional&cloud=aws")
    assert page.console_errors == []
    assert page.failed_requests == []


def test_runs_picked_for_comparison_are_what_is_replayed(page, base_url):
    picked = "00000000-0000-0000-0000-000000000000"  # the first run, in France
    open_offline(page, f"{base_url}/?tab=regional&runs={picked}")
    page.wait_for_function(
        f"document.querySelector('#{ids.REGIONAL_SUMMARY}')?.innerText.startsWith('1 run drew')",
        timeout=30_000,
    )
    assert "France" in page.inner_text(f"#{ids.REGIONAL_SUMMARY}")
    page.wait_for_function(  # the map is drawn after the summary line
        f"document.querySelector('#{ids.REGIONAL_MAP} .js-plotly-plot')?.data?.length > 1",
        timeout=30_000,
    )
    markers = plotly_value(page, ids.REGIONAL_MAP, "gd.data[1].locations")
    assert markers == ["FRA"]
    assert page.console_errors == []


REGIONAL_GRAPHS = (
    ids.REGIONAL_MAP,
    ids.REGIONAL_RANKING,
    ids.REGIONAL_MIX,
    ids.REGIONAL_SUBNATIONAL,
    ids.REGIONAL_CLOUD,
)


def mark_figures(page) -> None:
    """Tag the data each regional chart shows now: a redraw replaces it (Plotly.react)."""
    page.evaluate(
        """(graphs) => graphs.forEach(id => {
          document.querySelector('#' + id + ' .js-plotly-plot').data.shownBefore = true;
        })""",
        list(REGIONAL_GRAPHS),
    )


def redrawn(page) -> set[str]:
    return {g for g in REGIONAL_GRAPHS if not plotly_value(page, g, "gd.data.shownBefore")}


def pick(page, control: str, option: str) -> set[str]:
    """Pick ``option`` in a dropdown, wait for the regional tab's answer to be applied and return
    the components it updated."""
    first_output = f"..{ids.REGIONAL_MAP}.figure..."
    with page.expect_response(
        lambda r: (
            "_dash-update-component" in r.url
            and json.loads(r.request.post_data)["output"].startswith(first_output)
        )
    ) as answer:
        page.click(f"#{control}")
        page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')")
    return set(answer.value.json()["response"])


def test_a_selection_with_the_same_figures_redraws_nothing(page, base_url):
    open_offline(page, f"{base_url}/?tab=regional&project=vision")
    page.wait_for_function(
        f"document.querySelectorAll('#{ids.REGIONAL_MAP} path.choroplethlocation').length > 150",
        timeout=30_000,
    )
    mark_figures(page)
    # Every run of the project is in experiment "main": a new selection, the same figures.
    updated = pick(page, ids.EXPERIMENT_SELECT, "main")
    assert "experiment=main" in page.url
    assert ids.REGIONAL_SUMMARY in updated and not updated & set(REGIONAL_GRAPHS)
    page.wait_for_timeout(300)  # nothing else redraws them either
    assert redrawn(page) == set()
    # Another project ran elsewhere: the charts of its numbers and places are redrawn.
    assert set(REGIONAL_GRAPHS) - {ids.REGIONAL_MIX} <= pick(page, ids.PROJECT_SELECT, "llm")
    page.wait_for_function(
        f"document.querySelector('#{ids.REGIONAL_MAP} .js-plotly-plot').data[1]?.locations"
        ".join() === 'DEU,USA'"
    )
    assert {ids.REGIONAL_MAP, ids.REGIONAL_RANKING, ids.REGIONAL_CLOUD} <= redrawn(page)
    assert page.console_errors == []
    assert page.failed_requests == []
