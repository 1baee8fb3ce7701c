/*
 * STAMP band highlighting — shared by the Dash dashboard (loaded from assets/) and the
 * standalone HTML exports (inlined by stamp_engine/export.py).  Plain ES5, no build step,
 * no network.  Highlighting band B, as in the original STAMP: everything outside B is flat
 * light grey (grey at 35 % opacity over white, rgb(222,222,222)), B keeps its colours.
 *
 * What each kind of figure gets (figures from stamp_engine.figures):
 *   heatmap  traces with meta.role "band-map" (one per visit, meta.extent = [x0, x1] µm,
 *            meta.bands = [{name, columns: [start, stop], x: [x0, x1]}]): opaque grey
 *            layout shapes (name "stamp-band-grey") over the columns outside B, and the
 *            key's band item (annotation "map-key-band") is shown (opacity 1) while B is.
 *            Only the layout changes, so Plotly redraws shapes, not the map.
 *   surface  the same meta: each trace gets a `surfacecolor` (its z, clipped to the colour
 *            axis) in which the columns outside B sit below the axis minimum, and the colour
 *            axis gets a grey stop added below its scale (SLIVER, 1 % of the colour bar, shows
 *            as a grey foot on the bar while a band is highlighted).  The traces never leave their colour axis: Plotly
 *            keeps stale colour-axis state on traces that switch axes, which used to leave
 *            the "greyed" surface in full colour.
 *   light curves (meta.role "light-curve" / "error-ribbon", meta.curve = name): the other
 *            curves are dimmed.
 *   spectrum (a trace with meta.role "spectrum"): B's wavelength range is shaded (shape
 *            "stamp-band-shade"); its range comes from the `bands` argument.
 * "All" (or null/undefined/"") restores the figure as drawn.  Data arrays are never copied
 * or changed; what was changed is remembered in layout._stampHighlight (Plotly ignores
 * keys starting with "_" when it compares figures).
 *
 * Functions
 * ---------
 * window.stampHighlight(figure, bandName, bands) -> figure
 *     figure: {data, layout, frames?}; bands: [{name, start, end}] (µm), optional.
 *     A NEW figure when something changes (input untouched; unchanged traces, arrays and
 *     frames shared), the SAME object when the figure already shows `bandName`.
 * window.stampHighlightDiv(graphDiv, bandName, bands) -> Promise
 *     The same on a drawn graph div (or its id), applied in place (Plotly.update).
 * window.dash_clientside.stamp.*: the dashboard's clientside callbacks (see each).
 */
(function () {
  "use strict";

  var ALL = "All";
  var GREY = "rgb(222,222,222)";
  /* gl surfaces colour through a 256-texel colour map: the grey stop must own its first
     two texels, so the data's minimum (at SLIVER) still gets the scale's first colour. */
  var SLIVER = 2.5 / 255;
  var DIM_CURVE_OPACITY = 0.2;
  var GREY_SHAPE = "stamp-band-grey";
  var SHADE_SHAPE = "stamp-band-shade";
  var SHADE_COLOUR = "rgba(255,170,0,0.22)";
  /* the map key's item naming the highlight's grey (map_overlays.BAND_KEY_ANNOTATION): shown
     only while a band is highlighted, by its opacity (redrawn in place; its text or visibility
     would make Plotly recalculate the whole heatmap) */
  var BAND_KEY_ANNOTATION = "map-key-band";
  var DTYPES = {
    f4: Float32Array, f8: Float64Array, i1: Int8Array, u1: Uint8Array, i2: Int16Array,
    u2: Uint16Array, i4: Int32Array, u4: Uint32Array,
  };

  function bandOf(name) {
    return name === null || name === undefined || name === "" ? ALL : String(name);
  }

  function assign(target) {
    for (var i = 1; i < arguments.length; i++) {
      var source = arguments[i] || {};
      for (var key in source) {
        if (Object.prototype.hasOwnProperty.call(source, key)) {
          target[key] = source[key];
        }
      }
    }
    return target;
  }

  function role(trace) {
    return trace && trace.meta ? trace.meta.role : undefined;
  }

  /* ------------------------------------------------------------ 2D arrays of a trace */
  var decoded = typeof WeakMap === "function" ? new WeakMap() : null;

  /* Rows of a 2D data array: nested arrays, or Plotly's base64 spec {dtype, bdata, shape}. */
  function rowsOf(value) {
    if (!value) {
      return [];
    }
    if (Array.isArray(value)) {
      return value;
    }
    if (decoded && decoded.has(value)) {
      return decoded.get(value);
    }
    var Type = DTYPES[value.dtype];
    if (!Type || typeof value.bdata !== "string") {
      return [];
    }
    var binary = atob(value.bdata);
    var bytes = new Uint8Array(binary.length);
    for (var b = 0; b < binary.length; b++) {
      bytes[b] = binary.charCodeAt(b);
    }
    var flat = new Type(bytes.buffer);
    var shape = String(value.shape || flat.length).split(",").map(Number);
    var nCols = shape.length > 1 ? shape[1] : flat.length;
    var rows = [];
    for (var r = 0; r * nCols < flat.length; r++) {
      rows.push(flat.subarray(r * nCols, (r + 1) * nCols));
    }
    if (decoded) {
      decoded.set(value, rows);
    }
    return rows;
  }

  function finiteRange(rows) {
    var lo = Infinity;
    var hi = -Infinity;
    rows.forEach(function (row) {
      for (var j = 0; j < row.length; j++) {
        var v = row[j];
        if (v < lo) { lo = v; }
        if (v > hi) { hi = v; }
      }
    });
    return lo <= hi ? [lo, hi] : [0, 1];
  }

  /* ------------------------------------------------------------ what the band covers */
  function bandSpan(meta, band) {
    var spans = (meta && meta.bands) || [];
    for (var i = 0; i < spans.length; i++) {
      if (spans[i].name === band) {
        return spans[i];
      }
    }
    return null; /* a band outside the data: nothing of it is shown, everything greys */
  }

  function greyShapes(meta, band, xref) {
    var extent = meta.extent;
    var span = bandSpan(meta, band);
    var pieces = span ? [[extent[0], span.x[0]], [span.x[1], extent[1]]] : [[extent[0], extent[1]]];
    return pieces.filter(function (p) { return p[1] > p[0]; }).map(function (p) {
      return {
        type: "rect", name: GREY_SHAPE, xref: xref || "x", yref: "paper", x0: p[0], x1: p[1], y0: 0, y1: 1,
        fillcolor: GREY, opacity: 1, line: { width: 0 }, layer: "above",
      };
    });
  }

  /*
   * The map's masked-column and time-gap rectangles (stamp_engine.figures.map_overlays, names
   * "masked" and "gap", drawn below the map) again above the grey, clipped to it: masked
   * columns stay dark and gaps keep their own (darker) grey, as the map's key says, whether
   * or not a band is highlighted.  Named like the grey, so they go with it.
   */
  var OVER_GREY = { masked: true, gap: true };
  function maskedOverGrey(shapes, grey) {
    var out = [];
    (shapes || []).forEach(function (m) {
      if (!m || !OVER_GREY[m.name]) {
        return;
      }
      grey.forEach(function (g) {
        var x0 = Math.max(Math.min(m.x0, m.x1), g.x0), x1 = Math.min(Math.max(m.x0, m.x1), g.x1);
        if ((m.xref || "x") === g.xref && x1 > x0) {
          out.push(assign({}, m, { name: GREY_SHAPE, x0: x0, x1: x1, layer: "above" }));
        }
      });
    });
    return out;
  }

  function shadeShapes(bands, band) {
    var range = (bands || []).filter(function (b) { return b && b.name === band; })[0];
    if (!range) {
      return [];
    }
    return [{
      type: "rect", name: SHADE_SHAPE, xref: "x", yref: "paper", x0: +range.start, x1: +range.end,
      y0: 0, y1: 1, fillcolor: SHADE_COLOUR, line: { width: 0 }, layer: "below",
    }];
  }

  function withBandKey(annotations, shown) {
    var opacity = shown ? 1 : 0, changed = false;
    var out = (annotations || []).map(function (a) {
      if (!a || a.name !== BAND_KEY_ANNOTATION || a.opacity === opacity) {
        return a;
      }
      changed = true;
      return assign({}, a, { opacity: opacity });
    });
    return changed ? out : annotations;
  }

  function withShapes(layout, name, shapes) {
    var kept = (layout.shapes || []).filter(function (s) { return !s || s.name !== name; });
    return kept.concat(shapes);
  }

  /* ------------------------------------------------------------ the surface colour trick */
  function colourLimits(axis, traces) {
    if (isFinite(axis.cmin) && isFinite(axis.cmax) && axis.cmax > axis.cmin) {
      return [+axis.cmin, +axis.cmax];
    }
    var lo = Infinity;
    var hi = -Infinity;
    traces.forEach(function (t) {
      var r = finiteRange(rowsOf(t.z));
      lo = Math.min(lo, r[0]);
      hi = Math.max(hi, r[1]);
    });
    return hi > lo ? [lo, hi] : [lo - 0.5, lo + 0.5];
  }

  /* The colour axis with a grey stop below its scale, and the value that lands on it. */
  function greyedAxis(axis, limits) {
    var scale = Array.isArray(axis.colorscale) ? axis.colorscale : [[0, GREY], [1, GREY]];
    var floor = limits[0] - ((limits[1] - limits[0]) * SLIVER) / (1 - SLIVER);
    var stops = [[0, GREY], [SLIVER, GREY]].concat(scale.map(function (stop) {
      return [SLIVER + (1 - SLIVER) * stop[0], stop[1]];
    }));
    var out = assign({}, axis, { colorscale: stops, cmin: floor, cmax: limits[1], cauto: false });
    delete out.cmid; /* cmid would move cmin back */
    return { axis: out, floor: floor };
  }

  function greyedSurfacecolor(trace, band, limits, floor) {
    var span = bandSpan(trace.meta, band);
    var start = span ? span.columns[0] : 0;
    var stop = span ? span.columns[1] : 0;
    return rowsOf(trace.z).map(function (row) {
      var out = new Float32Array(row.length);
      for (var j = 0; j < row.length; j++) {
        var v = row[j];
        /* inside: the value, clipped so no outlier reaches the grey stop; outside: grey */
        out[j] = j >= start && j < stop ? (v < limits[0] ? limits[0] : v > limits[1] ? limits[1] : v) : floor;
      }
      return out;
    });
  }

  /* ------------------------------------------------------------ the figure */
  function stampHighlight(figure, bandName, bands) {
    if (typeof figure === "string" || (typeof HTMLElement !== "undefined" && figure instanceof HTMLElement)) {
      stampHighlightDiv(figure, bandName, bands);
      return figure;
    }
    if (!figure || !Array.isArray(figure.data)) {
      return figure;
    }
    var band = bandOf(bandName);
    var layout = figure.layout || {};
    var state = layout._stampHighlight || { band: ALL };
    if (state.band === band) {
      return figure;
    }
    var all = band === ALL;
    var newLayout = assign({}, layout);
    var newState = { band: band };
    var data = figure.data;
    var maps = data.filter(function (t) { return role(t) === "band-map"; });
    var heatmaps = maps.filter(function (t) { return t.type === "heatmap"; });
    var surfaces = maps.filter(function (t) { return t.type === "surface"; });

    if (heatmaps.length) {
      /* one set of grey rectangles per x axis: visits side by side each have their own */
      var seen = {};
      var grey = [];
      heatmaps.forEach(function (trace) {
        var xref = trace.xaxis || "x";
        if (!all && !seen[xref]) {
          seen[xref] = true;
          grey = grey.concat(greyShapes(trace.meta, band, xref));
        }
      });
      newLayout.shapes = withShapes(layout, GREY_SHAPE, grey.concat(maskedOverGrey(layout.shapes, grey)));
      if (layout.annotations) {
        /* named only where its grey is drawn (a band over the whole map greys nothing) */
        newLayout.annotations = withBandKey(layout.annotations, grey.length > 0);
      }
    }
    if (surfaces.length) {
      var original = state.coloraxis || layout.coloraxis || {};
      if (all) {
        newLayout.coloraxis = original;
      } else {
        var limits = colourLimits(original, surfaces);
        var greyed = greyedAxis(original, limits);
        newLayout.coloraxis = greyed.axis;
        newState.coloraxis = original;
      }
    }
    if (data.some(function (t) { return role(t) === "spectrum"; })) {
      newLayout.shapes = withShapes(layout, SHADE_SHAPE, all ? [] : shadeShapes(bands, band));
    }
    newLayout._stampHighlight = newState;

    var newData = data.map(function (trace) {
      var kind = role(trace);
      if (kind === "band-map" && trace.type === "surface") {
        var copy = assign({}, trace);
        if (all) {
          delete copy.surfacecolor;
        } else {
          copy.surfacecolor = greyedSurfacecolor(trace, band, limits, greyed.floor);
        }
        return copy;
      }
      if (kind === "light-curve" || kind === "error-ribbon") {
        var curve = assign({}, trace);
        if (all || trace.meta.curve === band) {
          delete curve.opacity;
        } else {
          curve.opacity = DIM_CURVE_OPACITY;
        }
        return curve;
      }
      return trace;
    });
    return assign({}, figure, { data: newData, layout: newLayout });
  }

  /*
   * On a drawn graph: the same change as stampHighlight, applied with Plotly.update
   * of only what changed (shapes, the colour axis, surfacecolor, opacity).
   * Plotly.react with the new figure would be simpler but costs ~0.6 s on a 600 × 500
   * heatmap (it re-derives every trace); a shapes relayout takes ~20 ms.
   */
  function stampHighlightDiv(graphDiv, bandName, bands) {
    var gd = typeof graphDiv === "string" ? document.getElementById(graphDiv) : graphDiv;
    if (!gd || !gd.data || !gd.layout || typeof Plotly === "undefined") {
      return Promise.resolve(gd);
    }
    var figure = { data: gd.data, layout: gd.layout };
    var out = stampHighlight(figure, bandName, bands);
    if (out === figure) {
      return Promise.resolve(gd);
    }
    var layoutUpdate = {};
    ["shapes", "coloraxis"].forEach(function (key) {
      if (out.layout[key] !== gd.layout[key]) {
        layoutUpdate[key] = out.layout[key];
      }
    });
    var before = gd.layout.annotations || [], after = out.layout.annotations || [];
    if (after !== before) {
      /* an item whose opacity alone changed by itself: a whole new annotations array makes Plotly
         recalculate every trace; any other change goes as the whole array */
      var byOpacity = {};
      var onlyOpacity = after.length === before.length && after.every(function (a, i) {
        if (a === before[i]) {
          return true;
        }
        byOpacity["annotations[" + i + "].opacity"] = a.opacity;
        return !!a && !!before[i] && Object.keys(assign({}, a, before[i])).every(function (k) {
          return k === "opacity" || a[k] === before[i][k];
        });
      });
      assign(layoutUpdate, onlyOpacity ? byOpacity : { annotations: after });
    }
    var surfaces = { idx: [], values: [] };
    var curves = { idx: [], values: [] };
    out.data.forEach(function (trace, i) {
      if (trace === gd.data[i]) {
        return;
      }
      if (trace.type === "surface") {
        surfaces.idx.push(i);
        surfaces.values.push(trace.surfacecolor === undefined ? null : trace.surfacecolor);
      } else {
        curves.idx.push(i);
        curves.values.push(trace.opacity === undefined ? null : trace.opacity);
      }
    });
    /* first, so that the plotly_afterplot these calls fire finds the graph up to date */
    gd.layout._stampHighlight = out.layout._stampHighlight;
    /* Plotly.update only: dcc.Graph copies what a plotly_relayout event changed back into
       its figure prop and then redraws the whole figure (~0.7 s); it ignores plotly_update. */
    var done = Plotly.update(gd, surfaces.idx.length ? { surfacecolor: surfaces.values } : {}, layoutUpdate,
      surfaces.idx.length ? surfaces.idx : undefined);
    return curves.idx.length
      ? Promise.resolve(done).then(function () { return Plotly.update(gd, { opacity: curves.values }, {}, curves.idx); })
      : done;
  }

  /* ------------------------------------------------------------ dashboard graphs */
  /*
   * dcc.Graph draws each new figure with Plotly.react, which would cost the same ~0.6 s
   * for a highlight; so the dashboard highlights the drawn graph in place and re-applies
   * the selection after every plot (plotly_afterplot), e.g. when the server sends a new
   * figure.  views[graphId] = {band, bands, shown}.
   */
  var views = {};

  function graphDivOf(graphId) {
    return document.querySelector("#" + graphId + " .js-plotly-plot");
  }

  function syncView(graphId) {
    var view = views[graphId];
    var gd = graphDivOf(graphId);
    if (view && view.shown && gd && gd.data) {
      stampHighlightDiv(gd, view.band, view.bands);
    }
  }

  function watchView(graphId, triesLeft) {
    var gd = graphDivOf(graphId);
    if (gd && typeof gd.on === "function") {
      if (gd._stampWatched !== graphId) {
        gd._stampWatched = graphId;
        gd.on("plotly_afterplot", function () { syncView(graphId); });
      }
      syncView(graphId);
    } else if (triesLeft > 0) {
      setTimeout(function () { watchView(graphId, triesLeft - 1); }, 100);
    }
  }

  /* ------------------------------------------------------------ Dash clientside callbacks */
  function noUpdate() {
    return window.dash_clientside && window.dash_clientside.no_update !== undefined
      ? window.dash_clientside.no_update
      : null;
  }

  function parseId(propId) {
    var id = propId.slice(0, propId.lastIndexOf("."));
    if (id.charAt(0) === "{") {
      try {
        return JSON.parse(id);
      } catch (e) {
        return id;
      }
    }
    return id;
  }

  function formatMicron(value) {
    return String(+(+value).toPrecision(6));
  }

  var stamp = {
    /*
     * Inputs: the All button's n_clicks and every band button's n_clicks.  Only a real
     * click (an n_clicks that is set) selects: buttons rebuilt with every result, or
     * added to the bar, trigger this with no clicks and must not select themselves.
     */
    select_band: function () {
      var ctx = (window.dash_clientside && window.dash_clientside.callback_context) || {};
      var clicked = (ctx.triggered || []).filter(function (t) {
        return t && t.value && t.prop_id && t.prop_id !== ".";
      });
      if (!clicked.length) {
        return noUpdate();
      }
      var id = parseId(clicked[0].prop_id);
      if (typeof id === "object" && id && id.band !== undefined) {
        return id.band;
      }
      return ALL;
    },

    /*
     * The band buttons from the usable bands (Input), marked with the selection (State);
     * the selection falls back to All only when its band is gone.
     * Returns [buttons, selection or no_update].
     */
    band_bar: function (bands, selected) {
      var list = bands || [];
      var band = bandOf(selected);
      var kept = band === ALL || list.some(function (b) { return b.name === band; });
      var now = kept ? band : ALL;
      var buttons = list.map(function (b) {
        return {
          namespace: "dash_bootstrap_components",
          type: "Button",
          props: {
            children: b.name, id: { type: "band-button", band: b.name }, size: "sm", color: "primary",
            outline: true, active: b.name === now, className: "me-1 mb-1",
            title: formatMicron(b.start) + "–" + formatMicron(b.end) + " µm",
          },
        };
      });
      return [buttons, kept ? noUpdate() : ALL];
    },

    /* Mark the selected band's button active: [All active, [button active…]]. */
    mark_selected: function (selected, buttonIds) {
      var band = bandOf(selected);
      return [band === ALL, (buttonIds || []).map(function (id) { return id.band === band; })];
    },

    /*
     * Inputs: the selected band, the open tab, the signature of the graph's figure (it
     * changes when the server sends a new one); States: the bands
     * ({name, start, end}); then the graph's tab and id.  The drawn graph follows the
     * selection while its tab is open (a closed one catches up when opened).  Returns
     * no_update: the figure prop stays as the server sent it.
     */
    highlight_shown: function (selected, activeTab, drawn, bands, tab, graphId) {
      views[graphId] = { band: bandOf(selected), bands: bands || [], shown: activeTab === tab };
      if (activeTab === tab) {
        watchView(graphId, 300);
      }
      return noUpdate();
    },
  };

  window.stampHighlight = stampHighlight;
  window.stampHighlightDiv = stampHighlightDiv;
  window.dash_clientside = assign({}, window.dash_clientside, {
    stamp: assign({}, (window.dash_clientside || {}).stamp, stamp),
  });
})();
