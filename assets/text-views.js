/* The page components of carbonboard/text_views.py: text drawn from data props. Every value is
 * a React text child, so it is escaped; nothing here builds markup from strings. */
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

  window.carbonboard_views = {
    TextTable: TextTable,
    TextLines: TextLines,
    StatCards: StatCards,
    SectionCard: SectionCard,
  };
})();
