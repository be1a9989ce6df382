/* The page components of carbonboard/text_views.py: text drawn from data props, and the date
 * range control. Every value is a React text child or an attribute, so it is escaped; nothing
 * here builds markup from strings. */
(function () {
  "use strict";

  const h = React.createElement;

  /* A cell or span: a string, or {text, title, className}. */
  function piece(tag, value, key) {
    if (value === null || value === undefined || typeof value !== "object") {
      return h(tag, { key: key }, value === null || value === undefined ? "" : String(value));
    }
    return h(
      tag,
      { key: key, className: value.className, title: value.title },
      value.text === null || value.text === undefined ? "" : String(value.text)
    );
  }

  function Empty(text, className) {
    return h("div", { className: className || "text-body-secondary" }, text || "");
  }

  function TextTable(props) {
    const rows = props.rows || [];
    if (!rows.length) {
      return h("div", { id: props.id, className: props.className }, Empty(props.empty));
    }
    return h(
      "div",
      { id: props.id, className: props.className },
      h(
        "table",
        { className: "table table-sm table-hover mb-0" },
        h("thead", null, h("tr", null, (props.columns || []).map((c, i) => piece("th", c, i)))),
        h(
          "tbody",
          null,
          rows.map((row, r) => h("tr", { key: r }, row.map((cell, c) => piece("td", cell, c))))
        )
      ),
      props.note ? h("div", { className: "small" }, props.note) : null
    );
  }

  function line(value, key, tag) {
    const spans = typeof value === "object" && value !== null ? value.spans || [] : [value];
    const className = typeof value === "object" && value !== null ? value.className : undefined;
    return h(tag, { key: key, className: className }, spans.map((s, i) => piece("span", s, i)));
  }

  function TextLines(props) {
    const lines = props.lines || [];
    if (!lines.length) {
      return h("div", { id: props.id, className: props.className }, Empty(props.empty));
    }
    const body = props.as_list
      ? h("ul", { className: "list-group list-group-flush" }, lines.map((l, i) => line(l, i, "li")))
      : lines.map((l, i) => line(l, i, "div"));
    return h(
      "div",
      { id: props.id, className: props.className },
      props.heading ? h("p", { className: "mb-2" }, props.heading) : null,
      body
    );
  }

  function StatCards(props) {
    return h(
      "div",
      { id: props.id, className: "row " + (props.className || "") },
      (props.cards || []).map((card, i) =>
        h(
          "div",
          { key: i, className: "col-sm-6 col-md-3" },
          h(
            "div",
            { className: "card h-100 shadow-sm" },
            h(
              "div",
              { className: "card-body" },
              h(
                "div",
                { className: "text-body-secondary small text-uppercase stat-label" },
                String(card.label || "")
              ),
              h(
                "div",
                { id: card.id, className: "fs-3 fw-semibold stat-value" },
                card.value === null || card.value === undefined ? "" : String(card.value)
              )
            )
          )
        )
      )
    );
  }

  function SectionCard(props) {
    return h(
      "div",
      { id: props.id, className: "card mb-4 shadow-sm " + (props.className || "") },
      h(
        "div",
        { className: "card-header" },
        h("h2", { className: "h6 mb-0" }, String(props.title || ""))
      ),
      h("div", { className: "card-body" }, props.children)
    );
  }

  /* The day of a date prop ("YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS"), "" for none. */
  function day(value) {
    return value ? String(value).slice(0, 10) : "";
  }

  /* A native date input showing the day ``value``. It is not a controlled input: React would put
   * the last day back as soon as a part of it is rubbed out to be typed again. The page's value
   * is written into it when it changes; ``onDay`` hears each whole day typed or picked, and ""
   * when the input is emptied. While a day is only partly typed the input's value is "" and its
   * validity says so: that is not a change. */
  function DateInput(props) {
    const ref = React.useRef(null);
    React.useEffect(() => {
      const input = ref.current;
      if (input && (input.value !== props.value || input.validity.badInput)) {
        input.value = props.value;
      }
    }, [props.value]);
    return h("input", {
      ref: ref,
      type: "date",
      id: props.id,
      className: "form-control " + props.className,
      "aria-label": props.label,
      defaultValue: props.value,
      min: props.min || undefined,
      max: props.max || undefined,
      onChange: (event) => {
        const input = event.target;
        if (input.value || !input.validity.badInput) {
          props.onDay(input.value);
        }
      },
    });
  }

  /* The date filter: from and to (each bounded by the other), and a button clearing both. */
  function DateRange(props) {
    const start = day(props.start_date);
    const end = day(props.end_date);
    const lowest = day(props.min_date_allowed);
    const highest = day(props.max_date_allowed);
    const set = (name) => (value) => props.setProps({ [name]: value || null });
    return h(
      "div",
      { id: props.id, className: "input-group date-range " + (props.className || "") },
      h(DateInput, {
        id: props.id + "-start",
        className: "date-range-start",
        label: "From",
        value: start,
        min: lowest,
        max: end || highest,
        onDay: set("start_date"),
      }),
      h("span", { className: "input-group-text" }, "to"),
      h(DateInput, {
        id: props.id + "-end",
        className: "date-range-end",
        label: "To",
        value: end,
        min: start || lowest,
        max: highest,
        onDay: set("end_date"),
      }),
      start || end
        ? h(
            "button",
            {
              type: "button",
              className: "btn btn-outline-secondary date-range-clear",
              title: "Clear the dates",
              "aria-label": "Clear the dates",
              onClick: () => props.setProps({ start_date: null, end_date: null }),
            },
            "\u00d7"
          )
        : null
    );
  }

  window.carbonboard_views = {
    DateRange: DateRange,
    TextTable: TextTable,
    TextLines: TextLines,
    StatCards: StatCards,
    SectionCard: SectionCard,
  };
})();
