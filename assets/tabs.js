/* Keyboard and screen-reader access for the view tabs. dcc.Tabs draws each tab as a plain
 * <div>: give the strip the tablist/tab roles, make each tab focusable, mark the selected one,
 * and let Enter, Space and the arrow keys switch tabs as they do in any tab strip. */
(function () {
  "use strict";

  const STRIP = ".carbonboard-tabs";

  function label(strip) {
    strip.setAttribute("role", "tablist");
    strip.querySelectorAll(".carbonboard-tab").forEach((tab) => {
      const selected = tab.classList.contains("carbonboard-tab--selected");
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-selected", String(selected));
      tab.setAttribute("tabindex", selected ? "0" : "-1");
    });
  }

  function onKey(event) {
    const tab = event.target.closest && event.target.closest(".carbonboard-tab");
    if (!tab) {
      return;
    }
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      tab.click();
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      const tabs = Array.from(tab.parentElement.querySelectorAll(".carbonboard-tab"));
      const step = event.key === "ArrowRight" ? 1 : tabs.length - 1;
      const next = tabs[(tabs.indexOf(tab) + step) % tabs.length];
      next.click();
      next.focus();
    }
  }

  new MutationObserver(() => document.querySelectorAll(STRIP).forEach(label)).observe(
    document.documentElement,
    { childList: true, subtree: true, attributes: true, attributeFilter: ["class"] }
  );
  document.addEventListener("keydown", onKey);
})();
