"""Component ids, named once so layout and callbacks cannot drift apart."""

# --- stores (the browser holds keys and small metadata only, never data)
SESSION = "session-id"            # random hex per page load: names the upload folder
DATASET = "dataset"               # descriptor of the files shown (see dashboard.server.datasets)
RESULT = "job-result"             # key of the processed cube + data limits + problems
FIRST_JOB = "first-job"           # set when new data need the background job (a large first read)
BANDS = "valid-bands"             # usable bands from the editor
BANDS_FITTED = "bands-fitted"     # dataset whose wavelengths last chose the band preset
SELECTED_BAND = "selected-band"   # band highlighted in the browser ("All" or a name)
UPLOAD_REQUEST = "upload-request" # names and sizes of the files just chosen (set by stamp_upload.js)
UPLOAD_DONE = "upload-done"       # id of an upload whose bytes are all on the server (set by stamp_upload.js)
UPLOAD_SETTINGS = "upload-settings"  # limit, route URL and component ids for stamp_upload.js

# --- data in
UPLOAD = "upload"                 # drop zone holding the file input
UPLOAD_INPUT = "upload-input"
UPLOAD_MESSAGE = "upload-message"
UPLOAD_PROGRESS_BOX = "upload-progress-box"
UPLOAD_PROGRESS = "upload-progress"
UPLOAD_PROGRESS_TEXT = "upload-progress-text"
SERVER_FILES = "server-files"
SERVER_OPEN = "server-open"
DEMO_OPEN = "demo-open"
DATASET_LABEL = "dataset-label"

# --- processing controls
N_INTEGRATIONS = "n-integrations"
INTERPOLATE_GAPS = "interpolate-gaps"
GAP_HOURS = "gap-hours"
ZAXIS = "zaxis"
NORMALIZATION = "normalization"
BASELINE_START = "baseline-start"
BASELINE_END = "baseline-end"
WAVE_MIN = "wave-min"
WAVE_MAX = "wave-max"
TIME_MIN = "time-min"
TIME_MAX = "time-max"
SIGMA_TIME = "sigma-time"
SIGMA_WAVE = "sigma-wave"
BIN_TIME = "bin-time"
BIN_WAVE = "bin-wave"
CLIP_SIGMA = "clip-sigma"         # sigma clipping along time; 0 = off
ELEMENT = "element"               # spectral element (SOSS order, NIRSpec detector) when the data hold several
ELEMENT_BOX = "element-box"       # hidden while the data hold one element
OPTIONS_MESSAGE = "options-message"
PROCESS = "process"
CANCEL = "cancel"

# --- display controls (re-render from the cached cube)
COLORSCALE = "colorscale"
Z_MIN = "z-min"
Z_MAX = "z-max"
STRETCH = "stretch"               # log / asinh stretch of raw flux
VISIT_LAYOUT = "visit-layout"     # visits on one time axis or side by side
DISPLAY_MESSAGE = "display-message"
COLOUR_REQUEST = "colour-request"   # colours the browser could not apply itself: the server redraws

# --- band editor and highlighting
BAND_TABLE = "band-table"
BAND_ADD = "band-add"
BAND_PRESET = "band-preset"
BAND_MESSAGE = "band-message"
BAND_BUTTONS = "band-buttons"
BAND_ALL = "band-all"
BAND_BUTTON_TYPE = "band-button"  # pattern-matching ids {"type": BAND_BUTTON_TYPE, "band": name}

# --- progress and problems
PROGRESS = "progress"
PROGRESS_TEXT = "progress-text"
JOB_MESSAGE = "job-message"
PROBLEMS = "problems"

# --- views
TABS = "view-tabs"
TAB_SURFACE = "tab-surface"
TAB_HEATMAP = "tab-heatmap"
TAB_LIGHTCURVES = "tab-lightcurves"
TAB_SPECTRUM = "tab-spectrum"
SURFACE = "surface-graph"
HEATMAP = "heatmap-graph"
LIGHTCURVES = "lightcurve-graph"
SPECTRUM = "spectrum-graph"
SPECTRUM_SLIDER = "spectrum-slider"
PLAY = "spectrum-play"
PLAY_INTERVAL = "spectrum-interval"
SPECTRUM_SPEED = "spectrum-speed"     # frames per second of Play
SPECTRUM_MODE = "spectrum-mode"       # variability % or flux
SPECTRUM_FRAMES = "spectrum-frames"   # every frame, sent once; the browser animates them
SUMMARY = "summary"
LOCATION = "location"             # page URL: the whole view (features/url_state.py); ?view=heatmap opens that tab
URL_WRITTEN = "url-written"       # the query string this page last wrote (its own writes are not restored)
URL_OPENED = "url-opened"         # a query string to restore: the page's link, or one navigated to (not its own writes)
URL_READ = "url-read"             # True once the page's own URL was read (nothing is written before)
URL_MESSAGE = "url-message"       # what in an opened link could not be used
# --- linked exploration (features/explore.py, assets/stamp_explore.js)
EXPLORE = "explore"                       # the panels beside the map: spectrum and light curve at the clicked point
EXPLORE_DATA = "explore-data"             # display cube for the browser, sent once per result
EXPLORE_SENT = "explore-sent"             # signature of the result EXPLORE_DATA holds
EXPLORE_WANTED = "explore-wanted"         # set in the browser when EXPLORE_DATA is wanted (pointer on a map, or idle)
EXPLORE_POINT = "explore-point"           # the clicked point {row, column}, set in the browser
EXPLORE_SPECTRUM = "explore-spectrum-graph"
EXPLORE_LIGHTCURVE = "explore-lightcurve-graph"
EXPLORE_HINT = "explore-hint"
TIME_BOX_SETS = "time-box-sets"           # what a box on a light curve sets: baseline / in_transit / time range
WAVE_BOX_SETS = "wave-box-sets"           # what a box on a spectrum sets: new band / wavelength range
BOX_MESSAGE = "box-message"
#: Time windows picked on the white-light curve, hours since the first integration:
#: {"baseline": [h0, h1] or None, "in_transit": [h0, h1] or None}; the science panels read it.
WINDOWS_STORE = "time-windows"
TAB_CHANNELS = "tab-channels"
TAB_TRANSMISSION = "tab-transmission"
TAB_VARIABILITY = "tab-variability"

# --- science panels (dashboard/features/science.py)
CHANNELS_GRAPH = "channels-graph"
CHANNELS_BY = "channels-by"               # how channels are made: width / R / n
CHANNELS_VALUE = "channels-value"
CHANNELS_BIN = "channels-bin"             # display binning, integrations per point
CHANNELS_DIVIDE = "channels-divide"       # divide by the white light
CHANNELS_MESSAGE = "channels-message"
DEPTH_GRAPH = "depth-graph"
DEPTH_BY = "depth-by"
DEPTH_VALUE = "depth-value"
DEPTH_KIND = "depth-kind"                 # transit / eclipse
DEPTH_UNIT = "depth-unit"                 # ppm / %
IN_TRANSIT_START = "in-transit-start"
IN_TRANSIT_END = "in-transit-end"
WINDOW_BASELINE_START = "window-baseline-start"
WINDOW_BASELINE_END = "window-baseline-end"
WINDOW_BASELINE2_START = "window-baseline2-start"   # optional second baseline window (after the transit)
WINDOW_BASELINE2_END = "window-baseline2-end"
DEPTH_MESSAGE = "depth-message"
PERIODOGRAM_GRAPH = "periodogram-graph"
AMPLITUDE_GRAPH = "amplitude-graph"
AMPLITUDE_BY = "amplitude-by"
AMPLITUDE_VALUE = "amplitude-value"
AMPLITUDE_PERIOD = "amplitude-period"     # user period, hours; empty = the white light's peak
VARIABILITY_MESSAGE = "variability-message"

# --- downloads (dashboard/features/downloads.py, assets/stamp_downloads.js)
DOWNLOAD_CARD = "download-card"
#: Download kind (of stamp_engine.export.catalogue.PRODUCTS) → its button.
DOWNLOAD_BUTTONS = {
    "package": "download-package",
    "surface": "download-surface",
    "heatmap": "download-heatmap",
    "combined": "download-combined",
    "video": "download-video",
    "ecsv": "download-ecsv",
    "csv": "download-csv",
    "fits": "download-fits",
    "periodogram": "download-periodogram",
    "amplitude": "download-amplitude",
    "transit": "download-transit",
}
DOWNLOAD_CANCEL = "download-cancel"
DOWNLOAD_PROGRESS = "download-progress"
DOWNLOAD_STAGE = "download-stage"
DOWNLOAD_MESSAGE = "download-message"
DOWNLOAD_LINK = "download-link"  # store: URL of the built file, which the browser then fetches
DOWNLOAD_STARTED = "download-started"  # store: token of the last download the browser started
#: Small stores holding a signature of what each graph currently shows (graphs are
#: drawn only when their tab is open, and only when that signature changes).
DRAWN = {SURFACE: "surface-drawn", HEATMAP: "heatmap-drawn", LIGHTCURVES: "lightcurve-drawn", SPECTRUM: "spectrum-drawn"}
#: The same for the science panels (features/science.py lays them out).
SCIENCE_DRAWN = {CHANNELS_GRAPH: "channels-drawn", DEPTH_GRAPH: "depth-drawn", PERIODOGRAM_GRAPH: "variability-drawn"}
#: Per view: a count the browser sets when the view's tab is open and one of its inputs changed
#: (dashboard.features.views.when_shown); a hidden view's callback is not even asked.
SHOWN = {graph: f"{graph}-shown" for graph in (*DRAWN, *SCIENCE_DRAWN)}
#: The science tabs' empty containers (tab id → container id), filled the first time a science tab opens.
SCIENCE_PANES = {TAB_CHANNELS: "channels-pane", TAB_TRANSMISSION: "transmission-pane", TAB_VARIABILITY: "variability-pane"}
WINDOW_PANE = "transmission-windows-pane"  # the Transmission tab's time-window inputs, filled with the panes
SCIENCE_MOUNTED = "science-mounted"  # store: True once the science panes hold their controls and graphs


def band_button(name: str) -> dict:
    """Pattern-matching id of the highlight button of band ``name``."""
    return {"type": BAND_BUTTON_TYPE, "band": name}
