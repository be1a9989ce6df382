/* Component libraries the first page does not load (see carbonboard/page_scripts.py): until a
 * component of one is drawn, a stand-in takes its place in the page's registry. Drawing the
 * stand-in loads the library's scripts once, shows a short "Loading…" line meanwhile, then draws
 * the real component with the same props; the library's own script replaces the stand-ins, so
 * later draws use the real components directly. A stand-in function (called by a clientside
 * callback) loads the library and answers with a promise of the real function's result. */
(function () {
  "use strict";

  const config = document.getElementById("carbonboard-deferred-scripts");
  if (!config) {
    return;
  }
  const libraries = JSON.parse(config.textContent);

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.async = false; // keep the library's scripts in their order
      script.onload = resolve;
      script.onerror = () => reject(new Error("could not load " + src));
      document.head.appendChild(script);
    });
  }

  Object.entries(libraries).forEach(([namespace, library]) => {
    let loading = null;
    const load = () => {
      loading = loading || library.scripts.reduce(
        (previous, src) => previous.then(() => loadScript(src)), Promise.resolve()
      );
      return loading;
    };
    const standIns = {};
    library.components.forEach((name) => {
      standIns[name] = function DeferredComponent(props) {
        const [state, setState] = React.useState(loading ? "loading" : "idle");
        React.useEffect(() => {
          let mounted = true;
          load().then(
            () => mounted && setState("ready"),
            (error) => {
              console.error(error);
              if (mounted) {
                setState("failed");
              }
            }
          );
          return () => {
            mounted = false;
          };
        }, []);
        const real = window[namespace] && window[namespace][name];
        if (state === "ready" && real && real !== standIns[name]) {
          return React.createElement(real, props);
        }
        return React.createElement(
          "div",
          { className: "small text-body-secondary py-2", role: "status" },
          state === "failed" ? "This view could not be loaded; reload the page." : "Loading…"
        );
      };
    });
    (library.functions || []).forEach((name) => {
      standIns[name] = (...args) => load().then(() => window[namespace][name](...args));
    });
    window[namespace] = standIns;
  });
})();
