// The plotly.js partial bundle the dashboard and reports load: only the trace types carbonboard
// draws. Built by `make plotly-bundle` into assets/plotly-carbonboard.min.js.
var Plotly = require('plotly.js/lib/core'); // includes scatter

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/pie'),
    require('plotly.js/lib/choropleth'),
    require('plotly.js/lib/scattergeo')
]);

// dcc.Graph asks plotly to fit a chart to its box (Plots.resize) after the chart's first draw
// and whenever the box changes size, even when the change is the chart's own new height, which
// Plotly.react has just drawn. Plotly then redraws the whole chart 100 ms later, to the same
// size. A resize that would leave the chart as drawn is answered at once; any other is plotly's.
var resize = Plotly.Plots.resize;
Plotly.Plots.resize = function (gd) {
    var element = typeof gd === 'string' ? document.getElementById(gd) : gd;
    var drawn = element && element._fullLayout;
    if (drawn && element.layout) {
        var box = window.getComputedStyle(element);
        var same = function (fixed, size, drawnSize) {
            return fixed || Math.round(parseFloat(size)) === Math.round(drawnSize);
        };
        if (same(element.layout.width, box.width, drawn.width) &&
            same(element.layout.height, box.height, drawn.height)) {
            return Promise.resolve(element);
        }
    }
    return resize.apply(this, arguments);
};

module.exports = Plotly;
