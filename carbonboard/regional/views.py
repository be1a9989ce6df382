"""Every view of "where should this have run?" from one baseline: the charts, the sentences under
them and the sub-national country picker.

The dashboard's regional tab and the HTML report both draw from :func:`regional_views`, so the
page and the file show the same comparisons with the same assumptions. A view is asked for by
part (:data:`PARTS`): a toggle on the page redraws its own part only.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from carbonboard.regional.baseline import Baseline
from carbonboard.regional.figures import (
    cloud_figure,
    energy_mix_figure,
    ranking_figure,
    subnational_figure,
    world_map_figure,
)
from carbonboard.regional.tables import (
    cleanest_regions,
    cloud_comparison,
    cloud_table,
    country_ranking,
    country_table,
    subnational_comparison,
    subnational_table,
)
from carbonboard.regional.text import (
    MIX_NOTE,
    cloud_assumptions,
    cloud_finding,
    grid_assumptions,
    grid_data_note,
    ranking_note,
    summary,
)
from carbonboard.theme import placeholder_figure

# Each part and the views it gives, by name.
PARTS = {
    "map": ("map_figure", "map_note", "summary"),
    "ranking": ("ranking_figure", "ranking_note", "mix_figure", "mix_note"),
    "subnational": (
        "subnational_options",
        "subnational_country",
        "subnational_figure",
        "subnational_note",
    ),
    "cloud": ("cloud_figure", "cloud_finding", "cloud_note"),
}
SUBNATIONAL_NAMES = {"USA": "US states", "CAN": "Canadian provinces"}
NO_SUBNATIONAL = "No run of this selection is in a country with sub-national grid data."


def subnational_countries(base: Baseline) -> list[str]:
    """The selection's countries that have sub-national grid data, most energy first."""
    with_regions = set(subnational_table()["country"])
    return [iso3 for iso3 in base.country_shares().index if iso3 in with_regions]


def regional_views(
    base: Baseline,
    parts: Iterable[str] = tuple(PARTS),
    mode: str = "intensity",
    country: str | None = None,
    provider: str = "all",
) -> dict[str, object]:
    """The views of the given ``parts`` (keys of :data:`PARTS`), by name: the world map coloured
    by ``mode``, the ranking and its energy mix, one ``country``'s regions (the first available
    when it has none), and the cloud regions of ``provider`` ("all" for every one)."""
    wanted = set(parts)
    unknown = wanted - set(PARTS)
    if unknown:
        raise ValueError(
            f"unknown regional views {sorted(unknown)}: expected some of {list(PARTS)}"
        )
    countries = country_table()
    views: dict[str, object] = {}
    if "map" in wanted:
        views["map_figure"] = world_map_figure(base, countries, mode)
        views["map_note"] = grid_assumptions(base, countries, countries)
        views["summary"] = summary(base, countries)
    if "ranking" in wanted:
        views.update(_ranking_views(base, countries))
    if "subnational" in wanted:
        views.update(_subnational_views(base, country))
    if "cloud" in wanted:
        cloud = cloud_table()
        compared = cloud_comparison(base, cloud)
        every = provider == "all"
        offered = compared if every else compared[compared["provider"] == provider]
        shown = cleanest_regions(offered) if every else offered
        views["cloud_figure"] = cloud_figure(shown, base)
        views["cloud_finding"] = cloud_finding(base, cloud, compared)
        views["cloud_note"] = cloud_assumptions(base, cloud, len(offered) - len(shown))
    return views


def _ranking_views(base: Baseline, countries: pd.DataFrame) -> dict[str, object]:
    """Cleanest and dirtiest grids next to the selection's own, and their generation mix
    (cleanest grid first)."""
    ranking = country_ranking(base, countries)
    shown = [*base.country_shares().index, *ranking["iso3"]]
    mix_iso3s = [i for i in dict.fromkeys(shown) if i]
    ranked = countries.set_index("iso3").reindex(mix_iso3s)["g_co2e_per_kwh"]
    return {
        "ranking_figure": ranking_figure(ranking),
        "ranking_note": ranking_note(base),
        "mix_figure": energy_mix_figure(countries, list(ranked.sort_values(kind="stable").index)),
        "mix_note": MIX_NOTE,
    }


def _subnational_views(base: Baseline, country: str | None) -> dict[str, object]:
    """The country picker (the selection's countries with sub-national data) and the chart."""
    countries = country_table()
    available = subnational_countries(base)
    names = countries.set_index("iso3")["name"]
    options = [
        {
            "label": SUBNATIONAL_NAMES.get(iso3, f"{names.get(iso3, iso3)}: bidding zones"),
            "value": iso3,
        }
        for iso3 in available
    ]
    if not available:
        return {
            "subnational_options": options,
            "subnational_country": None,
            "subnational_figure": placeholder_figure(NO_SUBNATIONAL),
            "subnational_note": NO_SUBNATIONAL,
        }
    country = country if country in available else available[0]
    table = subnational_table()
    compared = subnational_comparison(base, table, country)
    return {
        "subnational_options": options,
        "subnational_country": country,
        "subnational_figure": subnational_figure(compared, base),
        "subnational_note": grid_data_note(base, table[table["country"] == country]),
    }
