/*! plotly.js v4.1.1 partial bundle for carbonboard (scatter, bar, pie, choropleth, scattergeo) | (c) Plotly, Inc. | MIT license */
