"""The regional charts: one pure function each, a baseline and tables in, a Figure out.

Built with the app's template from plain plotly dicts (``themed_figure``); masses on axes are in
the unit that suits the values, and every name from a CSV is cut and drawn as plain text.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carbonboard.figures import axis_unit
from carbonboard.formatting import (
    MASS_UNITS_KG,
    format_intensity,
    plot_escape,
    plot_labels,
    plot_text,
    short_label,
)
from carbonboard.regional.baseline import Baseline
from carbonboard.regional.tables import (
    MIX_SOURCES,
    PROVIDER_NAMES,
    emissions_there_kg,
    low_carbon_percent,
)
from carbonboard.regional.text import mass_text
from carbonboard.theme import (
    HIGHLIGHT_COLOR,
    MAP_BORDER_COLOR,
    MARGIN,
    MIX_COLORS,
    NEUTRAL_COLOR,
    PROVIDER_COLORS,
    RANKING_COLORS,
    category_margin,
    placeholder_figure,
    themed_figure,
)

MAP_COLORBAR_PX = 120  # the map's right margin: its colour bar, numbers and title
MIX_LABELS = {source: source.replace("_", " ") for source in MIX_SOURCES}  # as hover shows them
MAP_MODES = ("intensity", "emissions", "low_carbon")
# Colour scales: low is good (green) for intensity and emissions, high is good for low-carbon share.
INTENSITY_COLORSCALE = "RdYlGn_r"
LOW_CARBON_COLORSCALE = "RdYlGn"
# Intensity and emissions colour scales end at this quantile, so a few extreme grids do not wash
# out the rest of the map; the hover still shows every value.
COLOR_CAP_QUANTILE = 0.98


def _mix_hover(countries: pd.DataFrame) -> tuple[np.ndarray, str]:
    """customdata and hover lines showing each country's generation mix. An array, not nested
    lists: plotly validates a list element by element, an array at once."""
    columns = countries[["name", "year", *MIX_SOURCES]].assign(
        name=countries["name"].map(plot_text)
    )
    customdata = columns.astype(object).where(columns.notna(), None).to_numpy()
    lines = "<br>".join(
        f"{MIX_LABELS[source]}: %{{customdata[{i + 2}]:.0f}} %"
        for i, source in enumerate(MIX_SOURCES)
    )
    return customdata, lines


def world_map_figure(base: Baseline, countries: pd.DataFrame, mode: str = "intensity") -> go.Figure:
    """Choropleth of every country: its grid intensity, the selection's emissions had it run
    there, or its low-carbon share; the selection's countries are marked; hover shows the mix."""
    if mode not in MAP_MODES:
        raise ValueError(f"unknown map mode {mode!r}: expected one of {MAP_MODES}")
    customdata, mix_lines = _mix_hover(countries)
    if mode == "emissions":
        emissions_kg = emissions_there_kg(base.energy_kwh, countries)
        factor, unit = axis_unit(emissions_kg, MASS_UNITS_KG)
        z = emissions_kg / factor
        title, colorscale = f"{unit} CO2e had it run there", INTENSITY_COLORSCALE
        value_line = f"your runs would have emitted %{{z:.3g}} {unit} CO2e"
    elif mode == "low_carbon":
        z = low_carbon_percent(countries)
        title, colorscale = "low-carbon share of generation (%)", LOW_CARBON_COLORSCALE
        value_line = "low-carbon share %{z:.0f} %"
    else:
        z = countries["g_co2e_per_kwh"]
        title, colorscale = "grid intensity (gCO2e/kWh)", INTENSITY_COLORSCALE
        value_line = "%{z:.0f} gCO2e/kWh"
    zmax = 100.0 if mode == "low_carbon" else float(z.quantile(COLOR_CAP_QUANTILE))
    traces = [
        {
            "type": "choropleth",
            "locations": countries["iso3"].to_numpy(),
            "locationmode": "ISO-3",
            "z": np.asarray(z, dtype=float),
            "zmin": 0.0,
            "zmax": zmax if zmax > 0 else None,
            "colorscale": colorscale,
            "colorbar": {"title": {"text": title, "side": "right"}, "thickness": 14},
            "marker": {"line": {"width": 0.3, "color": MAP_BORDER_COLOR}},
            "customdata": customdata,
            "hovertemplate": (
                f"<b>%{{customdata[0]}}</b> (%{{customdata[1]}})<br>{value_line}<br>"
                f"{mix_lines}<extra></extra>"
            ),
            "name": title,
        }
    ]
    shares = base.country_shares()
    known = shares[shares.index.isin(set(countries["iso3"]))].sort_index()
    if not known.empty:
        traces.append(
            {
                "type": "scattergeo",
                "locations": list(known.index),
                "locationmode": "ISO-3",
                "mode": "markers",
                "marker": {
                    "symbol": "star",
                    "size": [round(10 + 14 * share) for share in known],  # whole pixels
                    "color": HIGHLIGHT_COLOR,
                    "line": {"width": 1, "color": MAP_BORDER_COLOR},
                },
                "text": [f"your runs: {share * 100:.0f} % of the energy" for share in known],
                "hovertemplate": "%{location}: %{text}<extra></extra>",
                "name": "your runs",
                "showlegend": False,
            }
        )
    geo = {
        "projection": {"type": "natural earth"},
        "showframe": False,
        "showcoastlines": False,
        "showcountries": False,  # the choropleth outlines each country: borders twice cost 40 %
        "showland": True,  # places without data stay visible, in the land colour
        "lataxis": {"range": [-58, 85]},
    }
    # room on the right for the colour bar, its numbers and title (plotly would otherwise widen
    # the margin by drawing the map a second time)
    margin = {"l": 0, "r": MAP_COLORBAR_PX, "t": 10, "b": 0}
    return themed_figure(traces, {"geo": geo, "margin": margin, "height": 460})


def energy_mix_figure(countries: pd.DataFrame, iso3s: list[str]) -> go.Figure:
    """Stacked shares of each generation source for the given countries, in the given order."""
    rows = countries.set_index("iso3").reindex([i for i in iso3s if i in set(countries["iso3"])])
    if rows.empty:
        return placeholder_figure("No generation mix for these countries")
    traces = [
        {
            "type": "bar",
            "y": plot_labels(rows["name"]),
            "x": rows[source].to_numpy(dtype=float),
            "name": MIX_LABELS[source],
            "marker": {"color": MIX_COLORS[source]},
            "orientation": "h",
            "hovertemplate": f"%{{y}}: {MIX_LABELS[source]} %{{x:.1f}} %<extra></extra>",
        }
        for source in MIX_SOURCES
    ]
    layout = {
        "barmode": "stack",
        "xaxis": {"title": {"text": "share of electricity generation (%)"}, "range": [0, 100]},
        "yaxis": {"autorange": "reversed"},
        "legend": {"orientation": "h", "y": -0.25, "yanchor": "top"},
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "height": max(320, 26 * len(rows) + 140),
    }
    return themed_figure(traces, layout)


def _saving_label(saving: float) -> str:
    if not math.isfinite(saving):
        return ""
    return f"{saving:.0f} % less" if saving >= 0 else f"{-saving:.0f} % more"


def _emission_bars(
    labels: list[str],
    emissions_kg: pd.Series,
    colors: list[str],
    hover: list[str],
    x_title: str,
    text: list[str] | None = None,
    baseline_kg: float | None = None,
) -> go.Figure:
    """Sorted horizontal bars of masses (first on top), optionally with a dashed line at the
    selection's own emissions."""
    factor, unit = axis_unit(emissions_kg, MASS_UNITS_KG)
    shown = plot_labels(labels)
    bars = {
        "type": "bar",
        "y": shown,
        "x": np.asarray(emissions_kg, dtype=float) / factor,
        "orientation": "h",
        "marker": {"color": colors},
        "hovertext": [plot_escape(line) for line in hover],
        "hoverinfo": "text",
    }
    if text:
        bars.update(text=text, textposition="auto")
    layout = {
        "xaxis": {"title": {"text": f"{unit} CO2e {x_title}"}},
        "yaxis": {"autorange": "reversed", "automargin": True},
        "margin": {"l": category_margin(shown, least=10), "r": 10, "t": 30, "b": MARGIN["b"]},
        "height": max(320, (28 if text else 16) * len(labels) + 100),
        "bargap": 0.15,
    }
    if baseline_kg is not None and math.isfinite(baseline_kg):
        x = baseline_kg / factor  # a dashed line at the selection's own emissions, labelled
        layout["shapes"] = [
            {
                "type": "line",
                "x0": x,
                "x1": x,
                "xref": "x",
                "y0": 0,
                "y1": 1,
                "yref": "y domain",
                "line": {"dash": "dash", "color": HIGHLIGHT_COLOR},
            }
        ]
        layout["annotations"] = [
            {
                "text": f"your runs: {mass_text(baseline_kg)}",
                "x": x,
                "xref": "x",
                "xanchor": "left",
                "y": 1,
                "yref": "y domain",
                "yanchor": "top",
                "showarrow": False,
            }
        ]
    return themed_figure([bars], layout)


def _rows(frame: pd.DataFrame, *columns: str) -> list[tuple]:
    """The given columns of each row, as tuples to unpack."""
    return list(frame[list(columns)].itertuples(index=False, name=None))


def _emitted_at(name: object, emissions_kg: float, g_co2e_per_kwh: float) -> str:
    """'Poland: 1.2 kg at 650 gCO2e/kWh', the start of every bar's hover."""
    return f"{short_label(name)}: {mass_text(emissions_kg)} at {format_intensity(g_co2e_per_kwh)}"


def ranking_figure(ranking: pd.DataFrame) -> go.Figure:
    """Sorted horizontal bars: the selection in the cleanest, its own and the dirtiest grids."""
    if ranking.empty:
        return placeholder_figure("No runs in this selection")
    rows = _rows(ranking, "label", "emissions_kg", "g_co2e_per_kwh", "saving_percent", "kind")
    return _emission_bars(
        labels=[label for label, *_ in rows],
        emissions_kg=ranking["emissions_kg"],
        colors=[RANKING_COLORS[kind] for *_, kind in rows],
        hover=[_emitted_at(label, kg, g) for label, kg, g, _, _ in rows],
        x_title="for the same energy",
        text=[
            mass_text(kg) if kind == "yours" else f"{mass_text(kg)}  {_saving_label(saving)}"
            for _, kg, _, saving, kind in rows
        ],
    )


def subnational_figure(compared: pd.DataFrame, base: Baseline) -> go.Figure:
    """The selection's energy across a country's states or provinces, its own highlighted."""
    if compared.empty or base.runs == 0:
        return placeholder_figure("No sub-national data for this selection")
    rows = _rows(compared, "name", "emissions_kg", "g_co2e_per_kwh", "saving_percent", "is_current")
    return _emission_bars(
        labels=[f"{name} (yours)" if current else name for name, *_, current in rows],
        emissions_kg=compared["emissions_kg"],
        colors=[HIGHLIGHT_COLOR if current else NEUTRAL_COLOR for *_, current in rows],
        hover=[
            f"{_emitted_at(name, kg, g)} ({_saving_label(saving) or 'n/a'})"
            for name, kg, g, saving, _ in rows
        ],
        x_title="for the same energy",
        baseline_kg=base.emissions_kg,
    )


def cloud_figure(compared: pd.DataFrame, base: Baseline) -> go.Figure:
    """The selection's IT energy across cloud regions (provider PUE applied), own ones marked."""
    if compared.empty or base.runs == 0:
        return placeholder_figure("No cloud regions to compare")
    rows = _rows(
        compared,
        "provider",
        "region",
        "location",
        "emissions_kg",
        "g_co2e_per_kwh",
        "pue",
        "saving_percent",
        "is_current",
    )
    labels = [
        f"{PROVIDER_NAMES.get(p, p)} {short_label(region)}{' (yours)' if current else ''}"
        for p, region, *_, current in rows
    ]
    return _emission_bars(
        labels=labels,
        emissions_kg=compared["emissions_kg"],
        colors=[
            HIGHLIGHT_COLOR if current else PROVIDER_COLORS.get(p, NEUTRAL_COLOR)
            for p, *_, current in rows
        ],
        hover=[
            f"{label} - {_emitted_at(location, kg, g)} x PUE {pue:.2f}"
            f" ({_saving_label(saving) or 'n/a'})"
            for label, (_, _, location, kg, g, pue, saving, _) in zip(labels, rows, strict=True)
        ],
        x_title="for the same IT energy, provider PUE applied",
        baseline_kg=base.emissions_kg,
    )
