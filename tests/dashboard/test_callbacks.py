"""Callbacks through the real Flask app: the same HTTP requests the browser makes."""

from __future__ import annotations

import gzip
import re

import pytest

from carbonboard import ids, page_scripts
from carbonboard.app import create_app
from carbonboard.data.store import HistoryStore
from carbonboard.selection import Selection

from .conftest import write_csv


@pytest.fixture(scope="module")
def app(module_history):
    source = HistoryStore.from_arguments([str(p) for p in module_history], disk_cache=False)
    return create_app(source, refresh_interval_s=0)


def _outputs(key: str) -> list[dict] | dict:
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    specs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in parts]
    return specs if key.startswith("..") else specs[0]


def call(app, first_output: str, values: dict[str, object], changed: list[str] | None = None):
    """POST ``/_dash-update-component`` for the callback whose outputs start with
    ``first_output``; ``values`` maps "id.property" to the value the browser would send."""
    callback = next(
        c for c in app._callback_list if c["output"].strip(".").startswith(first_output)
    )

    def spec(item: dict) -> dict:
        return {**item, "value": values.get(f"{item['id']}.{item['property']}")}

    payload = {
        "output": callback["output"],
        "outputs": _outputs(callback["output"]),
        "inputs": [spec(i) for i in callback["inputs"]],
        "state": [spec(s) for s in callback["state"]],
        "changedPropIds": changed or [],
    }
    response = app.server.test_client().post("/_dash-update-component", json=payload)
    return response


def sync_answer(app, values: dict[str, object], changed: list[str] | None = None) -> dict:
    """What the server's selection callback sets, by component and property: its declared outputs
    and what it sets with ``set_props`` (Dash's ``sideUpdate``) together."""
    response = call(app, f"{ids.URL_NOTICE}.children", values, changed)
    assert response.status_code == 200
    body = response.get_json()
    answer: dict[str, dict] = {}
    for part in (body.get("response", {}), body.get("sideUpdate", {})):
        for component, props in part.items():
            answer.setdefault(component, {}).update(props)
    return answer


def test_page_and_assets_are_served_locally(app) -> None:
    client = app.server.test_client()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/assets/bootstrap.min.css" in html
    assert "cdn" not in html.lower() and "https://" not in html.split("<footer>")[0]
    layout = client.get("/_dash-layout").get_json()
    assert ids.PROJECT_SELECT in str(layout)
    gz = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"


def test_files_from_assets_are_compressed_and_plotly_is_the_partial_bundle(app) -> None:
    client = app.server.test_client()
    html = client.get("/").get_data(as_text=True)
    # plotly.js is not a page script: dcc.Graph loads it when a chart is first drawn, from
    # the address below, which the app answers with the partial bundle
    assert not re.findall(r'<script src="[^"]*plotly[^"]*"', html)
    # nor are scripts the page never needs: old browsers' polyfill, dash_table's bundle
    assert not re.findall(r'<script src="[^"]*(polyfill|dash_table)[^"]*"', html)
    preloaded = re.findall(r'<link rel="preload" href="([^"]+)" as="script"', html)
    assert any("async-graph" in url for url in preloaded)  # dcc's graph code, fetched early
    # and the renderer's first requests, asked for with the page
    data = re.findall(r'<link rel="preload" href="([^"]+)" as="fetch" crossorigin', html)
    assert data == ["/_dash-layout", "/_dash-dependencies"]
    assert page_scripts.GRAPH_PLOTLY_PATH not in preloaded  # fetched by the first chart
    assert all(client.get(url).status_code == 200 for url in preloaded)
    assert "/assets/src/" not in html  # the bundle's build recipe is not a page script
    bundle = client.get(page_scripts.GRAPH_PLOTLY_PATH)
    bundle.direct_passthrough = False
    partial = client.get("/assets/plotly-carbonboard.min.js")
    partial.direct_passthrough = False
    assert bundle.status_code == 200 and bundle.get_data() == partial.get_data()
    assert b"https://cdn" not in bundle.get_data()  # not even as plotly's default map URL
    for asset in (
        "/assets/bootstrap.min.css",
        "/assets/plotly-carbonboard.min.js",
        page_scripts.GRAPH_PLOTLY_PATH,
    ):
        plain = client.get(asset)
        plain.direct_passthrough = False
        gz = client.get(asset, headers={"Accept-Encoding": "gzip"})
        assert gz.headers["Content-Encoding"] == "gzip", asset
        assert gzip.decompress(gz.get_data()) == plain.get_data()
        assert len(gz.get_data()) < len(plain.get_data()) / 2.5


def find(node, component_id: str) -> dict | None:
    """The component with this id in a ``/_dash-layout`` answer."""
    if isinstance(node, list):
        return next((f for n in node if (f := find(n, component_id))), None)
    if not isinstance(node, dict) or "props" not in node:
        return None
    if node["props"].get("id") == component_id:
        return node
    return find(node["props"].get("children"), component_id)


def card(cards: list[dict], value_id: str) -> str:
    """The value of the card whose value element has ``value_id`` (a StatCards row's)."""
    return next(c["value"] for c in cards if c["id"] == value_id)


def test_the_page_comes_with_what_does_not_depend_on_the_address(app) -> None:
    """The header, the whole-history totals and the running runs are in the layout itself: the
    first view asks no callback for them."""
    layout = app.server.test_client().get("/_dash-layout").get_json()
    assert find(layout, ids.HEADER_RUNS)["props"]["children"] == "42 runs"
    assert card(find(layout, ids.TOTALS_CARDS)["props"]["cards"], ids.TOTAL_RUNS) == "42"
    figure = find(layout, ids.TOTALS_PROJECTS_GRAPH)["props"]["figure"]
    assert set(figure["data"][0]["y"]) == {"nlp-bert", "vision-resnet"}
    assert find(layout, ids.EMPTY_STATE)["props"]["is_open"] is False
    assert find(layout, ids.LIVE_LIST)["props"]["children"] == []  # nothing running
    initial = {c["output"] for c in app._callback_list if not c.get("prevent_initial_call", False)}
    for drawn_with_the_page in (ids.HEADER_RUNS, ids.TOTALS_CARDS, ids.LIVE_LIST, ids.EMPTY_STATE):
        assert not any(drawn_with_the_page in output for output in initial), drawn_with_the_page


def test_a_page_at_the_default_address_comes_with_its_overview(app) -> None:
    """Opened without a query (the layout's Referer), the page holds the whole history's
    selection in its stores and the overview drawn for it, exactly as its callbacks would
    answer: no callback runs before its charts draw. Opened at another address, its stores are
    empty and its charts placeholders: the page's own selection fills them."""
    client = app.server.test_client()
    page = "http://127.0.0.1:3333/"
    layout = client.get("/_dash-layout", headers={"Referer": page}).get_json()
    default = Selection().to_dict()
    assert find(layout, ids.SELECTION)["props"]["data"] == default
    assert find(layout, ids.OVERVIEW_TAB_SELECTION)["props"]["data"] == default
    asked = call(
        app,
        f"{ids.PROJECT_TITLE}.children",
        {f"{ids.OVERVIEW_TAB_SELECTION}.data": default, f"{ids.TIMELINE_CUMULATIVE}.value": False},
        [f"{ids.OVERVIEW_TAB_SELECTION}.data"],
    ).get_json()["response"]
    assert card(asked[ids.PROJECT_TOTALS]["cards"], ids.PROJECT_RUNS) == "42"
    for component, props in asked.items():
        for prop, value in props.items():
            assert find(layout, component)["props"][prop] == value, (component, prop)
    lines = find(layout, ids.EQUIVALENTS_LIST)["props"]["lines"]
    assert lines and "driven" in lines[0]["spans"][0]["text"]  # km, the unit the page opens with
    elsewhere = client.get("/_dash-layout", headers={"Referer": f"{page}?project=nlp-bert"})
    deep = elsewhere.get_json()
    assert "data" not in find(deep, ids.SELECTION)["props"]
    assert "data" not in find(deep, ids.OVERVIEW_TAB_SELECTION)["props"]
    assert find(deep, ids.TIMELINE_GRAPH)["props"]["figure"]["data"] == []


def test_url_sets_the_selection_and_controls(app) -> None:
    out = sync_answer(
        app, {f"{ids.URL}.search": "?project=nlp-bert&experiment=bert-large&runs=large-000,ghost"}
    )
    assert out[ids.SELECTION]["data"] == {
        "project": "nlp-bert",
        "experiment": "bert-large",
        "date_from": None,
        "date_to": None,
        "run_ids": ["large-000"],
    }
    assert out[ids.PROJECT_SELECT]["value"] == "nlp-bert"
    assert [o["value"] for o in out[ids.EXPERIMENT_SELECT]["options"]] == [
        ids.ALL,
        "bert-base",
        "bert-large",
    ]
    assert out[ids.URL_NOTICE]["is_open"] is True
    assert "1 unknown run id left out." in str(out[ids.URL_NOTICE]["children"])
    assert ids.URL not in out  # a URL change never pushes another history entry


def test_unknown_url_values_fall_back_to_the_default_view(app) -> None:
    data = sync_answer(app, {f"{ids.URL}.search": "?project=<script>&from=x"})
    assert data[ids.SELECTION]["data"]["project"] is None
    assert data[ids.PROJECT_SELECT]["value"] == ids.ALL
    assert "Unknown project “<script>”" in str(data[ids.URL_NOTICE]["children"])


def test_a_control_change_pushes_the_url(app) -> None:
    out = sync_answer(
        app,
        {
            f"{ids.URL}.search": "",
            f"{ids.PROJECT_SELECT}.value": "vision-resnet",
            f"{ids.EXPERIMENT_SELECT}.value": "bert-base",  # stale: belongs to the old project
            f"{ids.DATE_RANGE}.start_date": "2026-03-02T00:00:00",
        },
        changed=[f"{ids.PROJECT_SELECT}.value"],
    )
    assert out[ids.URL]["search"] == "?project=vision-resnet&from=2026-03-02"
    assert out[ids.EXPERIMENT_SELECT]["value"] == ids.ALL


def test_runs_table_pages_on_the_server(app) -> None:
    selection = {
        "project": "nlp-bert",
        "experiment": None,
        "date_from": None,
        "date_to": None,
        "run_ids": [],
    }
    out = call(
        app,
        f"{ids.RUNS_TABLE}.getRowsResponse",
        {
            f"{ids.RUNS_TAB_SELECTION}.data": selection,
            f"{ids.RUNS_TABLE}.getRowsRequest": {
                "startRow": 5,
                "endRow": 10,
                "sortModel": [{"colId": "run_id", "sort": "asc"}],
                "filterModel": {
                    "experiment_id": {"filterType": "text", "type": "contains", "filter": "base"}
                },
            },
        },
    ).get_json()["response"]
    rows = out[ids.RUNS_TABLE]["getRowsResponse"]["rowData"]
    assert [r["run_id"] for r in rows] == [f"bert-{i:03d}" for i in range(5, 10)]
    assert out[ids.RUNS_TABLE]["getRowsResponse"]["rowCount"] == 20
    assert out[ids.RUNS_COUNT]["children"] == "20 of 22 runs"
    assert set(rows[0]) >= {"timestamp", "emissions", "energy_consumed", "status", "id"}


def test_runs_table_keeps_its_page_for_a_reload(app) -> None:
    def step(info: dict, kept: int | None, restored: bool) -> dict:
        values = {
            f"{ids.RUNS_TABLE}.paginationInfo": info,
            f"{ids.RUNS_TABLE_PAGE}.data": kept,
            f"{ids.RUNS_TABLE_PAGE_RESTORED}.data": restored,
        }
        return call(app, f"{ids.RUNS_TABLE_PAGE}.data", values).get_json()["response"]

    first_rows = {"currentPage": 0, "totalPages": 3, "isLastPageFound": True, "rowCount": 42}
    out = step(first_rows, 2, False)
    assert out[ids.RUNS_TABLE]["paginationGoTo"] == 2
    assert out[ids.RUNS_TABLE_PAGE]["data"] == 2 and out[ids.RUNS_TABLE_PAGE_RESTORED]["data"]
    out = step({**first_rows, "currentPage": 1}, 2, True)  # the user moves on: kept, not moved
    assert out[ids.RUNS_TABLE_PAGE]["data"] == 1 and ids.RUNS_TABLE not in out


def test_run_detail_shows_tasks(app) -> None:
    out = call(
        app,
        f"{ids.RUN_DETAIL}.children",
        {f"{ids.RUNS_TABLE}.cellClicked": {"rowIndex": 0, "colId": "run_id", "rowId": "large-000"}},
    ).get_json()["response"]
    text = str(out[ids.RUN_DETAIL]["children"])
    assert "large-000" in text and "3 tasks" in text
    assert ids.RUN_DETAIL_TASKS in text


def test_comparison_and_equivalents(app) -> None:
    selection = {"run_ids": ["bert-000", "resnet-000"]}
    out = call(
        app, f"{ids.COMPARISON_TABLE}.children", {f"{ids.RUNS_TAB_SELECTION}.data": selection}
    )
    data = out.get_json()["response"]
    assert len(data[ids.COMPARISON_GRAPH]["figure"]["data"]) == 3
    assert "resnet50 · resnet-0" in str(data[ids.COMPARISON_TABLE]["children"])
    out = call(
        app,
        f"{ids.EQUIVALENTS_LIST}.heading",
        {f"{ids.OVERVIEW_TAB_SELECTION}.data": {}, f"{ids.DISTANCE_UNIT}.value": "mi"},
    )
    assert " mi driven by an average new car" in out.get_data(as_text=True)


def test_project_view_follows_the_selection(app) -> None:
    out = call(
        app,
        f"{ids.PROJECT_TITLE}.children",
        {f"{ids.OVERVIEW_TAB_SELECTION}.data": {"project": "vision-resnet"}},
    ).get_json()["response"]
    assert out[ids.PROJECT_TITLE]["children"] == "vision-resnet"
    assert card(out[ids.PROJECT_TOTALS]["cards"], ids.PROJECT_RUNS) == "20"
    rows = out[ids.PROJECT_LOCATION]["rows"]
    assert any("Poland" in row[0] for row in rows)
    assert all(len(row) == 5 for row in rows)  # location, intensity, source, runs, energy


def test_the_cumulative_switch_redraws_the_timeline_alone(app) -> None:
    values = {
        f"{ids.OVERVIEW_TAB_SELECTION}.data": {"project": "vision-resnet"},
        f"{ids.TIMELINE_CUMULATIVE}.value": True,
    }
    out = call(
        app, f"{ids.PROJECT_TITLE}.children", values, [f"{ids.TIMELINE_CUMULATIVE}.value"]
    ).get_json()["response"]
    assert list(out) == [ids.TIMELINE_GRAPH]
    assert out[ids.TIMELINE_GRAPH]["figure"]["layout"]["title"]["text"] == "Cumulative emissions"
    everything = call(app, f"{ids.PROJECT_TITLE}.children", values).get_json()["response"]
    assert {ids.PROJECT_TITLE, ids.TIMELINE_GRAPH, ids.EXPERIMENTS_GRAPH} <= set(everything)


def test_a_failing_callback_shows_a_notice_not_a_trace(app, caplog) -> None:
    response = call(
        app, f"{ids.RUNS_TABLE}.getRowsResponse", {f"{ids.RUNS_TABLE}.getRowsRequest": "abc"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["sideUpdate"][ids.ERROR_NOTICE]["is_open"] is True
    assert "Traceback" not in response.get_data(as_text=True)
    assert any(record.exc_info for record in caplog.records)  # the details go to the log


def test_debug_mode_never_enables_the_werkzeug_debugger(module_history) -> None:
    source = HistoryStore.from_arguments([str(module_history[0])], disk_cache=False)
    debug_app = create_app(source, refresh_interval_s=0, debug=True)
    assert debug_app.server.debug is False


def test_a_header_only_file_gives_empty_views_not_errors(tmp_path) -> None:
    path = write_csv(tmp_path / "emissions.csv", [])
    empty = create_app(HistoryStore([path], disk_cache=False), refresh_interval_s=0)
    table = call(
        empty,
        f"{ids.RUNS_TABLE}.getRowsResponse",
        {f"{ids.RUNS_TAB_SELECTION}.data": {}, f"{ids.RUNS_TABLE}.getRowsRequest": {}},
    ).get_json()
    assert "sideUpdate" not in table  # no error notice
    assert table["response"][ids.RUNS_TABLE]["getRowsResponse"]["rowData"] == []
    assert table["response"][ids.RUNS_COUNT]["children"] == "0 of 0 runs"
    project = call(
        empty, f"{ids.PROJECT_TITLE}.children", {f"{ids.OVERVIEW_TAB_SELECTION}.data": {}}
    ).get_json()
    assert "sideUpdate" not in project
    assert card(project["response"][ids.PROJECT_TOTALS]["cards"], ids.PROJECT_RUNS) == "0"


def test_the_regional_tab_redraws_everything_on_a_selection_and_one_view_on_a_toggle(app) -> None:
    values = {
        f"{ids.REGIONAL_TAB_SELECTION}.data": {"project": "nlp-bert"},
        f"{ids.REGIONAL_MAP_MODE}.value": "intensity",
        f"{ids.REGIONAL_CLOUD_PROVIDER}.value": "gcp",
    }
    everything = call(
        app, f"{ids.REGIONAL_MAP}.figure", values, [f"{ids.REGIONAL_TAB_SELECTION}.data"]
    ).get_json()["response"]
    callback = next(c for c in app._callback_list if ids.REGIONAL_CLOUD_NOTE in c["output"])
    every_view = {spec["id"] for spec in _outputs(callback["output"])}
    assert len(every_view) == 14 and set(everything) == every_view
    regions = everything[ids.REGIONAL_CLOUD]["figure"]["data"][0]["y"]
    assert regions and all(label.startswith("GCP ") for label in regions)
    drawn = everything[ids.REGIONAL_DRAWN]["data"]
    values[f"{ids.REGIONAL_DRAWN}.data"] = drawn
    values[f"{ids.REGIONAL_CLOUD_PROVIDER}.value"] = "aws"
    toggled = call(
        app, f"{ids.REGIONAL_MAP}.figure", values, [f"{ids.REGIONAL_CLOUD_PROVIDER}.value"]
    ).get_json()["response"]
    assert set(toggled) == {
        ids.REGIONAL_CLOUD,
        ids.REGIONAL_CLOUD_RECOMMENDATION,
        ids.REGIONAL_CLOUD_NOTE,
        ids.REGIONAL_DRAWN,
    }


def test_the_regional_tab_does_not_send_figures_the_browser_already_shows(app) -> None:
    values = {
        f"{ids.REGIONAL_TAB_SELECTION}.data": {"project": "nlp-bert"},
        f"{ids.REGIONAL_MAP_MODE}.value": "intensity",
        f"{ids.REGIONAL_CLOUD_PROVIDER}.value": "all",
    }
    changed = [f"{ids.REGIONAL_TAB_SELECTION}.data"]
    first = call(app, f"{ids.REGIONAL_MAP}.figure", values, changed).get_json()["response"]
    figures = {ids.REGIONAL_MAP, ids.REGIONAL_RANKING, ids.REGIONAL_MIX, ids.REGIONAL_CLOUD}
    assert figures <= set(first)
    drawn = first[ids.REGIONAL_DRAWN]["data"]
    assert figures <= set(drawn)
    # The same selection again (a reload of the tab's store): the texts come, no figure does.
    values[f"{ids.REGIONAL_DRAWN}.data"] = drawn
    again = call(app, f"{ids.REGIONAL_MAP}.figure", values, changed).get_json()["response"]
    assert not figures & set(again)
    assert again[ids.REGIONAL_SUMMARY] == first[ids.REGIONAL_SUMMARY]
    assert again[ids.REGIONAL_DRAWN]["data"] == drawn
    # Another selection: the charts of its numbers are redrawn, and their digests change.
    values[f"{ids.REGIONAL_TAB_SELECTION}.data"] = {"project": "vision-resnet"}
    other = call(app, f"{ids.REGIONAL_MAP}.figure", values, changed).get_json()["response"]
    assert {ids.REGIONAL_RANKING, ids.REGIONAL_CLOUD} <= set(other)
    digests = other[ids.REGIONAL_DRAWN]["data"]
    assert digests[ids.REGIONAL_CLOUD] != drawn[ids.REGIONAL_CLOUD]
