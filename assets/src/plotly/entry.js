// The plotly.js partial bundle the dashboard and reports load: only the trace types carbonboard
// draws. Built by `make plotly-bundle` into assets/plotly-carbonboard.min.js.
var Plotly = require('plotly.js/lib/core'); // includes scatter

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/pie'),
    require('plotly.js/lib/choropleth'),
    require('plotly.js/lib/scattergeo')
]);

module.exports = Plotly;
