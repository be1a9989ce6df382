"""Every component id of the page, in one module: tests, scripts and callbacks share these names.

Ids are stable: renaming one breaks saved scripts and the browser tests. Each section owns a block;
add a new section's ids in a block of its own at the end.
"""

# --- page state ---------------------------------------------------------------------------------
SELECTION = "selection"  # dcc.Store: Selection.to_dict(), the single source of what is selected
DATA_VERSION = "data-version"  # dcc.Store: the RunSource version shown by the page
REFRESH = "refresh"  # dcc.Interval: polls the store for new data
URL = "url"  # dcc.Location: the view in the query string
ADDRESS = "address"  # dcc.Store: {search, at} when the page arrives at an address (load, back)
PUSHED_ADDRESS = "pushed-address"  # dcc.Store: the query string the page pushed last
URL_NOTICE = "url-notice"  # dbc.Alert: unknown values in the URL
ERROR_NOTICE = "error-notice"  # dbc.Alert: a computation failed (details in the server log)
VIEW_TABS = "view-tabs"  # dcc.Tabs: only the open tab's charts are drawn
TAB_OVERVIEW = "overview"  # the project view and equivalents
TAB_RUNS = "runs"  # the runs table and the run comparison
TAB_REGIONAL = "regional"  # where should this have run?
OVERVIEW_TAB_SELECTION = "overview-tab-selection"  # dcc.Store: SELECTION, while the tab is open
RUNS_TAB_SELECTION = "runs-tab-selection"  # dcc.Store: the same for the runs tab
REGIONAL_TAB_SELECTION = "regional-tab-selection"  # dcc.Store: the same for the regional tab

# --- header -------------------------------------------------------------------------------------
HEADER = "header"
HEADER_FILES = "header-files"
HEADER_RUNS = "header-runs"
HEADER_DATES = "header-dates"
SKIPPED_BADGE = "skipped-badge"
SKIPPED_COLLAPSE = "skipped-collapse"
SKIPPED_LIST = "skipped-list"
EMPTY_STATE = "empty-state"

# --- totals across all projects -----------------------------------------------------------------
TOTALS_SECTION = "totals-section"
TOTALS_CARDS = "totals-cards"  # text_views.StatCards; each card's value has its id below
TOTAL_ENERGY = "total-energy"
TOTAL_EMISSIONS = "total-emissions"
TOTAL_RUNS = "total-runs"
TOTAL_DURATION = "total-duration"
TOTALS_PROJECTS_GRAPH = "totals-projects-graph"
TOTALS_PROJECTS_MORE = "totals-projects-more"  # "… and K more projects" under the chart
TOTALS_SHOW_ALL = "totals-show-all"  # dbc.Switch: every project in the chart
EXPERIMENTS_MORE = "experiments-more"  # "… and K more experiments" under the chart

# --- filters ------------------------------------------------------------------------------------
FILTERS_SECTION = "filters-section"
PROJECT_SELECT = "project-select"  # dcc.Dropdown; "All projects" is the value ALL
EXPERIMENT_SELECT = "experiment-select"
DATE_RANGE = "date-range"
ALL = "__all__"  # the dropdowns' "All projects" / "All experiments" value

# --- project view -------------------------------------------------------------------------------
PROJECT_SECTION = "project-section"
PROJECT_TITLE = "project-title"
PROJECT_LOCATION = "project-location"
PROJECT_TOTALS = "project-totals"
PROJECT_EMISSIONS = "project-emissions"
PROJECT_ENERGY = "project-energy"
PROJECT_RUNS = "project-runs"
PROJECT_DURATION = "project-duration"
PROJECT_LAST_RUN = "project-last-run"
EXPERIMENTS_GRAPH = "experiments-graph"
ENERGY_SPLIT_GRAPH = "energy-split-graph"
TIMELINE_GRAPH = "timeline-graph"
TIMELINE_CUMULATIVE = "timeline-cumulative"  # dbc.Switch: per run / cumulative

# --- runs table and run detail ------------------------------------------------------------------
RUNS_SECTION = "runs-section"
RUNS_TABLE = "runs-table"
RUNS_COUNT = "runs-count"
RUNS_COLUMNS = "runs-columns"  # dcc.Dropdown: the columns the runs table shows
RUNS_TABLE_PURGED = "runs-table-purged"  # dcc.Store: when the grid last dropped its rows
RUNS_TABLE_PAGE = "runs-table-page"  # dcc.Store (browser tab): the grid's page, for a reload
RUNS_TABLE_PAGE_RESTORED = "runs-table-page-restored"  # dcc.Store: page put back since load
RUN_DETAIL = "run-detail"
RUN_DETAIL_SPLIT = "run-detail-split"  # graph inside the detail: energy by component
RUN_DETAIL_TASKS = "run-detail-tasks"  # graph inside the detail: emissions per task

# --- run comparison -----------------------------------------------------------------------------
COMPARISON_SECTION = "comparison-section"
COMPARE_SELECT = "compare-select"  # dcc.Dropdown (multi): Selection.run_ids
COMPARISON_TABLE = "comparison-table"
COMPARISON_GRAPH = "comparison-graph"

# --- real-world equivalents ---------------------------------------------------------------------
EQUIVALENTS_SECTION = "equivalents-section"
EQUIVALENTS_LIST = "equivalents-list"
DISTANCE_UNIT = "distance-unit"  # dbc.RadioItems: km | mi

# --- regional and cloud comparisons (carbonboard/sections/regional.py) --------------------------
REGIONAL_SECTION = "regional-section"
REGIONAL_SUMMARY = "regional-summary"  # what is replayed: runs, energy, places, emissions
REGIONAL_MAP = "regional-map"  # choropleth of every country
REGIONAL_MAP_MODE = "regional-map-mode"  # dbc.RadioItems: intensity | emissions | low_carbon
REGIONAL_MAP_NOTE = "regional-map-note"
REGIONAL_RANKING = "regional-ranking"  # the N cleanest, own and N dirtiest grids
REGIONAL_RANKING_NOTE = "regional-ranking-note"
REGIONAL_MIX = "regional-mix"  # generation mix of the ranked countries
REGIONAL_MIX_NOTE = "regional-mix-note"
REGIONAL_SUBNATIONAL = "regional-subnational"  # US states, Canadian provinces, Nordic zones
REGIONAL_SUBNATIONAL_COUNTRY = "regional-subnational-country"  # dbc.RadioItems: ISO-3
REGIONAL_SUBNATIONAL_NOTE = "regional-subnational-note"
REGIONAL_CLOUD = "regional-cloud"  # every cloud region, provider PUE applied
REGIONAL_CLOUD_PROVIDER = "regional-cloud-provider"  # dbc.RadioItems: all | aws | gcp | azure
REGIONAL_CLOUD_RECOMMENDATION = "regional-cloud-recommendation"
REGIONAL_CLOUD_NOTE = "regional-cloud-note"
REGIONAL_DRAWN = "regional-drawn"  # dcc.Store: digest of each figure the browser shows

# --- export, report and theme (carbonboard/sections/export.py) ----------------------------------
EXPORT_SECTION = "export-section"
EXPORT_CSV = "export-csv"  # dbc.Button: the view's runs as CSV
EXPORT_JSON = "export-json"  # dbc.Button: the view's runs as JSON
EXPORT_REPORT = "export-report"  # dbc.Button: the self-contained HTML report
EXPORT_DOWNLOAD = "export-download"  # dcc.Download shared by the three buttons
EXPORT_CHART = "export-chart"  # dcc.Dropdown: the chart to save (filled by assets/export.js)
EXPORT_PNG = "export-png"
EXPORT_SVG = "export-svg"
EXPORT_STATUS = "export-status"  # the name of the last image saved
EXPORT_IMAGE_REQUEST = "export-image-request"  # dcc.Store: {format, prefix} of a chart to save
THEME_DARK = "theme-dark"  # dbc.Switch
PRESENTATION_MODE = "presentation-mode"  # dbc.Switch: large fonts
DISPLAY_PREFS = "display-prefs"  # dcc.Store (local): {"theme", "presentation"}

# --- efficiency (carbonboard/sections/efficiency.py) and live runs (sections/live.py) -----------
TAB_EFFICIENCY = "efficiency"  # per unit of work, Pareto, ranking, trend, budgets
EFFICIENCY_TAB_SELECTION = "efficiency-tab-selection"  # dcc.Store: SELECTION, while open
EFFICIENCY_SECTION = "efficiency-section"
EFFICIENCY_EMPTY = "efficiency-empty"  # dbc.Alert: no metrics logged, the line that adds them
EFFICIENCY_UNIT = "efficiency-unit"  # dcc.Dropdown: the metric counted as units of work
EFFICIENCY_QUALITY = "efficiency-quality"  # dcc.Dropdown: the quality metric
EFFICIENCY_BETTER = "efficiency-better"  # dbc.RadioItems: higher | lower
EFFICIENCY_PERIOD = "efficiency-period"  # dbc.RadioItems: week | month
EFFICIENCY_PER_UNIT = "efficiency-per-unit"  # graph: emissions per 1,000 units per experiment
EFFICIENCY_PER_UNIT_TABLE = "efficiency-per-unit-table"
EFFICIENCY_PARETO = "efficiency-pareto"  # graph: emissions vs quality, the front
EFFICIENCY_DOMINATED = "efficiency-dominated"  # html.Ul: one sentence per dominated run
EFFICIENCY_RANKING = "efficiency-ranking"  # table: experiments by CO2 per unit of quality
EFFICIENCY_WASTE = "efficiency-waste"  # table: share of each sweep's emissions dominated
EFFICIENCY_TREND = "efficiency-trend"  # graph: emissions per period per project
EFFICIENCY_BUDGETS = "efficiency-budgets"  # html.Div: one warning + burn-down per budget
LIVE_SECTION = "live-section"  # the runs in progress, top of the overview
LIVE_LIST = "live-list"
