"""Component ids, named once so layout and callbacks cannot drift apart."""

# --- stores (the browser holds keys and small metadata only, never data)
SESSION = "session-id"            # random hex per page load: names the upload folder
DATASET = "dataset"               # descriptor of the files shown (see dashboard.datasets)
RESULT = "job-result"             # key of the processed cube + data limits + problems
FIRST_JOB = "first-job"           # set when the page's first view needs a background job (a first read)
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
LOCATION = "location"             # page URL: ?view=heatmap opens on that tab (deep links)
#: Small stores holding a signature of what each graph currently shows (graphs are
#: drawn only when their tab is open, and only when that signature changes).
DRAWN = {SURFACE: "surface-drawn", HEATMAP: "heatmap-drawn", LIGHTCURVES: "lightcurve-drawn", SPECTRUM: "spectrum-drawn"}


def band_button(name: str) -> dict:
    """Pattern-matching id of the highlight button of band ``name``."""
    return {"type": BAND_BUTTON_TYPE, "band": name}
