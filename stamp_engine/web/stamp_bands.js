/*
 * STAMP band highlighting — shared by the Dash dashboard (loaded from assets/) and the
 * standalone HTML exports (inlined by stamp_engine/export.py).  Plain ES5, no build step,
 * no network.
 *
 * Figures from stamp_engine.figures.surface_figure / heatmap_figure split the wavelength
 * axis at band edges; every piece is a trace with
 *     meta = {role: "band-piece", bands: [band names covering it], visit: v,
 *             colorscale: "<scale name>", coloraxis: "coloraxis"}
 * Highlighting band B keeps pieces whose meta.bands contains B in colour (on their shared
 * colour axis, opacity 1) and greys out the rest (flat gray colour scale, opacity 0.35,
 * no colour bar).  "All" (or null/undefined/"") restores every piece.  Only styling
 * changes: data arrays (typed arrays included) are never touched or copied.
 *
 * Functions (exact signatures)
 * ----------------------------
 * window.stampHighlight(figure, bandName) -> figure
 *     figure: {data: [...], layout: {...}, frames?: [...]} (a Plotly figure dict).
 *     Returns a NEW figure object; the input is not mutated (the data array and each
 *     changed trace are shallow-copied; layout, frames and all arrays are shared).
 *     If `figure` is a graph div (or its id), delegates to stampHighlightDiv and returns it.
 *
 * window.stampHighlightDiv(graphDiv, bandName) -> Promise | undefined
 *     graphDiv: a Plotly graph div or its element id.  One Plotly.restyle call on the band
 *     pieces of the div (used by the band buttons of exported HTML pages).
 *
 * window.dash_clientside.stamp.highlight(bandName, figure) -> figure | no_update
 *     Clientside callback: Input(<selected band store>, "data"), State(<graph>, "figure")
 *     -> Output(<graph>, "figure").  no_update when there is no figure.
 * window.dash_clientside.stamp.highlight_from_store(selectedBand, figure)
 *     Same as highlight (name kept for wiring from a dcc.Store).
 * window.dash_clientside.stamp.highlight_many(bandName, figure1, figure2, ...) -> [figures]
 *     One callback for several graphs: Output(g1, "figure"), Output(g2, "figure"), ...
 * window.dash_clientside.stamp.select_band(...nClicks) -> bandName | no_update
 *     Inputs: any number of n_clicks, e.g. Input("band-all", "n_clicks") and
 *     Input({"type": "band-button", "band": ALL}, "n_clicks").  Returns the "band" of the
 *     triggering pattern-matching id {"type": "band-button", "band": name}, "All" for any
 *     other trigger (the All button), no_update when nothing was clicked.
 */
(function () {
  "use strict";

  var ALL = "All";
  var GRAY_COLORSCALE = [
    [0, "rgb(160,160,160)"],
    [1, "rgb(160,160,160)"],
  ];
  var DIM_OPACITY = 0.35;

  function isPiece(trace) {
    return !!(trace && trace.meta && trace.meta.role === "band-piece");
  }

  function showsAll(bandName) {
    return bandName === null || bandName === undefined || bandName === "" || bandName === ALL;
  }

  function inBand(meta, bandName) {
    return showsAll(bandName) || (meta.bands || []).indexOf(bandName) >= 0;
  }

  /*
   * The style of a piece: an object of attribute -> value, where null means "remove the
   * attribute" (back to the trace's original state, which had no such key).
   */
  function pieceStyle(meta, bandName) {
    if (inBand(meta, bandName)) {
      if (meta.coloraxis) {
        return { coloraxis: meta.coloraxis, colorscale: null, showscale: null, opacity: 1 };
      }
      // a trace with its own colour scale: meta.colorscale must then be an explicit scale
      return {
        colorscale: meta.colorscale,
        showscale: meta.showscale === undefined ? null : meta.showscale,
        opacity: 1,
      };
    }
    return { coloraxis: null, colorscale: GRAY_COLORSCALE, showscale: false, opacity: DIM_OPACITY };
  }

  function styledTrace(trace, style) {
    var copy = Object.assign({}, trace);
    Object.keys(style).forEach(function (key) {
      if (style[key] === null) {
        delete copy[key];
      } else {
        copy[key] = style[key];
      }
    });
    return copy;
  }

  function resolveDiv(graphDiv) {
    if (typeof graphDiv === "string") {
      return document.getElementById(graphDiv);
    }
    return graphDiv;
  }

  function isGraphDiv(obj) {
    return (
      typeof obj === "string" ||
      (typeof HTMLElement !== "undefined" && obj instanceof HTMLElement)
    );
  }

  function stampHighlightDiv(graphDiv, bandName) {
    var gd = resolveDiv(graphDiv);
    if (!gd || !gd.data || typeof Plotly === "undefined") {
      return undefined;
    }
    var indices = [];
    var styles = [];
    gd.data.forEach(function (trace, i) {
      if (isPiece(trace)) {
        indices.push(i);
        styles.push(pieceStyle(trace.meta, bandName));
      }
    });
    if (!indices.length) {
      return undefined;
    }
    // one restyle: per-trace values as arrays aligned with `indices`; null resets a key
    var update = {};
    ["coloraxis", "colorscale", "showscale", "opacity"].forEach(function (key) {
      update[key] = styles.map(function (style) {
        return style[key] === undefined ? null : style[key];
      });
    });
    return Plotly.restyle(gd, update, indices);
  }

  function stampHighlight(figure, bandName) {
    if (isGraphDiv(figure)) {
      stampHighlightDiv(figure, bandName);
      return figure;
    }
    if (!figure || !Array.isArray(figure.data)) {
      return figure;
    }
    var data = figure.data.map(function (trace) {
      return isPiece(trace) ? styledTrace(trace, pieceStyle(trace.meta, bandName)) : trace;
    });
    return Object.assign({}, figure, { data: data });
  }

  function noUpdate() {
    return window.dash_clientside && window.dash_clientside.no_update !== undefined
      ? window.dash_clientside.no_update
      : null;
  }

  /* The id that triggered the callback: callback_context.triggered_id, or parsed from prop_id. */
  function triggeredId(ctx) {
    if (!ctx) {
      return null;
    }
    if (ctx.triggered_id !== undefined && ctx.triggered_id !== null) {
      return ctx.triggered_id;
    }
    var triggered = ctx.triggered && ctx.triggered[0];
    if (!triggered || !triggered.prop_id || triggered.prop_id === ".") {
      return null;
    }
    var id = triggered.prop_id.slice(0, triggered.prop_id.lastIndexOf("."));
    if (id.charAt(0) === "{") {
      try {
        return JSON.parse(id);
      } catch (e) {
        return id;
      }
    }
    return id;
  }

  function clicked(args) {
    for (var i = 0; i < args.length; i++) {
      var a = args[i];
      if (Array.isArray(a) ? a.some(function (n) { return !!n; }) : !!a) {
        return true;
      }
    }
    return false;
  }

  var stamp = {
    highlight: function (bandName, figure) {
      return figure ? stampHighlight(figure, bandName) : noUpdate();
    },
    highlight_from_store: function (selectedBand, figure) {
      return figure ? stampHighlight(figure, selectedBand) : noUpdate();
    },
    highlight_many: function (bandName) {
      var figures = Array.prototype.slice.call(arguments, 1);
      return figures.map(function (figure) {
        return figure ? stampHighlight(figure, bandName) : noUpdate();
      });
    },
    select_band: function () {
      var args = Array.prototype.slice.call(arguments);
      var ctx = window.dash_clientside && window.dash_clientside.callback_context;
      var id = triggeredId(ctx);
      if (!id || !clicked(args)) {
        return noUpdate();
      }
      if (typeof id === "object" && id.type === "band-button" && id.band !== undefined) {
        return id.band;
      }
      return ALL;
    },
  };

  window.stampHighlight = stampHighlight;
  window.stampHighlightDiv = stampHighlightDiv;
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    stamp: Object.assign({}, (window.dash_clientside || {}).stamp, stamp),
  });
})();
