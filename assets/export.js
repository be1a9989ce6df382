/* Share and export, in the browser: chart images through plotly.js, the light/dark theme and the
 * presentation mode. Everything runs offline; Dash calls these functions as clientside callbacks
 * (see carbonboard/sections/export.py).
 *
 * Figures follow the page theme: every chart on the page gets the theme's colours (and the larger
 * font of the presentation mode) by relayout, again whenever it is drawn anew, and gets its own
 * colours back when the light theme returns.
 */
(function () {
  "use strict";

  const DARK = { paper: "#212529", font: "#dee2e6", grid: "#495057", line: "#adb5bd" };
  const PRESENTATION_FONT_SIZE = 16;
  const AXIS = /^[xy]axis\d*$/;
  let prefs = { theme: "light", presentation: false };

  function readPath(object, path) {
    return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), object);
  }

  /* The layout values the current preferences ask for, for one chart. */
  function wantedLayout(gd) {
    const wanted = {};
    if (prefs.theme === "dark") {
      wanted.paper_bgcolor = DARK.paper;
      wanted.plot_bgcolor = DARK.paper;
      wanted["font.color"] = DARK.font;
      wanted["title.font.color"] = DARK.font;
      wanted["legend.bgcolor"] = "rgba(0,0,0,0)";
      const full = gd._fullLayout || {};
      Object.keys(full).filter((key) => AXIS.test(key)).forEach((axis) => {
        wanted[axis + ".gridcolor"] = DARK.grid;
        wanted[axis + ".zerolinecolor"] = DARK.grid;
        wanted[axis + ".linecolor"] = DARK.line;
        wanted[axis + ".title.font.color"] = DARK.font;
        wanted[axis + ".tickfont.color"] = DARK.font;
      });
      if (full.geo) {
        wanted["geo.bgcolor"] = DARK.paper;
      }
    }
    if (prefs.presentation) {
      wanted["font.size"] = PRESENTATION_FONT_SIZE;
    }
    return wanted;
  }

  /* Relayout one chart to the preferences; a no-op when it already matches, so the
   * plotly_afterplot listener that calls it cannot loop. */
  function themeChart(gd) {
    if (!gd.layout || !window.Plotly) {
      return;
    }
    const applied = gd._carbonboardApplied || {};
    const redrawn = Object.keys(applied).some((key) => readPath(gd.layout, key) !== applied[key]);
    if (redrawn || !gd._carbonboardOriginal) {
      gd._carbonboardOriginal = {};
      gd._carbonboardApplied = {};
    }
    const original = gd._carbonboardOriginal;
    const wanted = wantedLayout(gd);
    const update = {};
    Object.entries(wanted).forEach(([key, value]) => {
      const current = readPath(gd.layout, key);
      if (!(key in original)) {
        original[key] = current === undefined ? null : current;
      }
      if (current !== value) {
        update[key] = value;
      }
    });
    Object.keys(gd._carbonboardApplied).filter((key) => !(key in wanted)).forEach((key) => {
      update[key] = original[key];
      delete original[key];
    });
    gd._carbonboardApplied = wanted;
    if (Object.keys(update).length) {
      window.Plotly.relayout(gd, update);
    }
  }

  function charts() {
    return Array.from(document.querySelectorAll(".js-plotly-plot"));
  }

  /* The dcc.Graph id of a chart: its wrapper's id. */
  function graphId(gd) {
    const wrapper = gd.parentElement && gd.parentElement.closest("[id]");
    return wrapper ? wrapper.id : "";
  }

  function chartLabel(gd) {
    const card = gd.closest(".card");
    const heading = card && card.querySelector(".card-title, .card-header, h5, h4");
    const title = readPath(gd.layout, "title.text");
    return (heading && heading.textContent.trim()) || title || graphId(gd);
  }

  /* Keep the chart picker's options in step with the charts on the page. */
  function publishCharts() {
    const picker = document.querySelector("[data-chart-picker]");
    const setProps = window.dash_clientside && window.dash_clientside.set_props;
    if (!picker || !setProps) {
      return;
    }
    const seen = {};
    const options = charts().filter(graphId).map((gd) => {
      const label = chartLabel(gd);
      seen[label] = (seen[label] || 0) + 1;
      return { label: seen[label] > 1 ? label + " (" + seen[label] + ")" : label, value: graphId(gd) };
    });
    const key = JSON.stringify(options);
    if (key === picker._carbonboardOptions) {
      return;
    }
    picker._carbonboardOptions = key;
    const pickerId = picker.dataset.chartPicker;
    const current = picker._carbonboardValue;
    const value = options.some((o) => o.value === current) ? current : (options[0] || {}).value;
    picker._carbonboardValue = value;
    setProps(pickerId, { options: options, value: value || null });
  }

  let publishTimer = null;
  function watchCharts() {
    charts().forEach((gd) => {
      if (!gd._carbonboardWatched && gd.on) {
        gd._carbonboardWatched = true;
        gd.on("plotly_afterplot", () => themeChart(gd));
        themeChart(gd);
      }
    });
    clearTimeout(publishTimer);
    publishTimer = setTimeout(publishCharts, 150);
  }

  new MutationObserver(watchCharts).observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["class"],
  });

  /* The file name stem of a chart: its dcc.Graph image file name (without the app prefix), else
   * its id, made safe for any file system. */
  function chartSlug(gd, id) {
    const options = (gd._context && gd._context.toImageButtonOptions) || {};
    const name = (options.filename || id).replace(/^carbonboard-/, "");
    return name.toLowerCase().replace(/[^a-z0-9.]+/g, "-").replace(/^[-.]+|[-.]+$/g, "") || "chart";
  }

  const ns = (window.dash_clientside = window.dash_clientside || {});
  ns.carbonboard_export = {
    /* PNG or SVG of the picked chart, at its size on screen. */
    downloadChart: function (request, chartId) {
      if (!chartId || !request) {
        return window.dash_clientside.no_update;
      }
      const format = request.format === "svg" ? "svg" : "png";
      const prefix = request.prefix;
      const holder = document.getElementById(chartId);
      const gd = holder && (holder.classList.contains("js-plotly-plot")
        ? holder : holder.querySelector(".js-plotly-plot"));
      if (!gd || !gd._fullLayout) {
        return "That chart is not on the page any more.";
      }
      const filename = (prefix || "all-projects") + "_" + chartSlug(gd, chartId);
      window.Plotly.downloadImage(gd, {
        format: format,
        filename: filename,
        width: gd._fullLayout.width,
        height: gd._fullLayout.height,
      });
      return "Saved " + filename + "." + format;
    },

    /* One source of truth for the display preferences: the local store. A switch writes it; a
     * stored value (on load) sets the switches. Both then apply to the page and its charts. */
    applyPrefs: function (stored, dark, presentation) {
      const context = window.dash_clientside.callback_context;
      const trigger = context.triggered_id;
      const fromSwitch = trigger && trigger !== context.outputs_list[0].id;
      const next = fromSwitch
        ? { theme: dark ? "dark" : "light", presentation: Boolean(presentation) }
        : {
            theme: (stored && stored.theme) === "dark" ? "dark" : "light",
            presentation: Boolean(stored && stored.presentation),
          };
      prefs = next;
      const root = document.documentElement;
      root.setAttribute("data-bs-theme", next.theme);
      root.classList.toggle("presentation", next.presentation);
      charts().forEach(themeChart);
      const noUpdate = window.dash_clientside.no_update;
      return [
        fromSwitch ? next : noUpdate,
        next.theme === "dark",
        next.presentation,
      ];
    },
  };
})();
