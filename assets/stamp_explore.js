/*
 * Linked exploration in the browser (namespace "stampExplore"; dashboard/features/explore.py).
 *
 * A click on the heatmap or the 3D surface (or a hover while Shift is held) picks a point;
 * the spectrum of its row and the light curve of its column are drawn beside the map, with
 * crosshair lines through the point, from the display cube sent once per result
 * (stamp_engine.explore_figures.explore_payload).  None of this asks the server.  The payload is
 * asked for at the first pointer on a map or once the page is idle after the map is drawn
 * (wanted), not with the first view; a click made before it comes is answered when it comes.
 * A box drawn on a light curve sets a time window (baseline / in transit, hours since the
 * first integration) or the time range; a box on a spectrum adds a band or sets the
 * wavelength range.
 * Time: the payload and the windows are in hours since t0; every figure draws time in the
 * unit its layout.meta.time_axis names (stamp_engine.timeaxis.TimeAxis.meta: "unit",
 * "per_hour", "digits"), which is read here, never assumed.
 */
(function () {
  "use strict";

  var CROSSHAIR_SHAPE = "stamp-explore-crosshair";
  var MAP_GRAPHS = { "heatmap-graph": true, "surface-graph": true };
  var shiftHeld = false;
  ["keydown", "keyup"].forEach(function (type) {
    window.addEventListener(type, function (event) { shiftHeld = !!event.shiftKey; }, true);
  });
  window.addEventListener("blur", function () { shiftHeld = false; });

  function noUpdate() {
    return window.dash_clientside.no_update;
  }

  /* The time axis a figure (or a payload) draws in: {unit, per_hour, digits}; hours when it says none. */
  function timeAxisOf(meta) {
    var axis = meta && meta.time_axis;
    return axis && finite(axis.per_hour) && axis.per_hour > 0 ? axis : { unit: "h", per_hour: 1, digits: 4 };
  }

  function graphDiv(graphId) {
    return document.querySelector("#" + graphId + " .js-plotly-plot");
  }

  /* `hours` since t0 written in `axis`'s unit, e.g. "12.50 s". */
  function timeText(axis, hours) {
    return (hours * axis.per_hour).toFixed(axis.digits) + " " + axis.unit;
  }

  function bytesOf(b64) {
    var text = atob(b64);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) {
      bytes[i] = text.charCodeAt(i);
    }
    return bytes.buffer;
  }

  /* The payload's arrays, decoded once per payload object. */
  var decodedPayloads = new WeakMap();
  function decode(data) {
    var cube = decodedPayloads.get(data);
    if (!cube) {
      var breaks = {};
      (data.breaks || []).forEach(function (row) { breaks[row] = true; });
      var hours = new Float64Array(bytesOf(data.hours)), axis = timeAxisOf(data);
      cube = {
        nt: data.n_time, nw: data.n_wave,
        wavelength: new Float64Array(bytesOf(data.wavelength)),
        hours: hours, axis: axis,
        times: hours.map(function (h) { return h * axis.per_hour; }), /* as the light-curve panel draws them */
        value: new Float32Array(bytesOf(data.value)),
        error: new Float32Array(bytesOf(data.error)),
        visit: data.visit, breaks: breaks,
      };
      decodedPayloads.set(data, cube);
    }
    return cube;
  }

  /*
   * The heatmap's hover errors.  The server sends the display cube's errors once per result, in
   * the exploration's payload, not a second time as the heatmap's customdata: each heatmap trace
   * says in meta.error_rows which payload row each of its drawn rows shows (-1: none), and its
   * customdata is filled in here from the payload of the same result (layout.meta.result), after
   * every drawing of the heatmap (a figure from the server comes without it).
   */
  var hoverPayload = null;
  var HEATMAP_GRAPH = "heatmap-graph";

  function fillHoverErrors(gd) {
    var data = hoverPayload;
    if (!data || !gd || !gd.data || !gd.layout || !gd.layout.meta || gd.layout.meta.result !== data.result) {
      return;
    }
    var cube = decode(data), nw = cube.nw, none = null;
    gd.data.forEach(function (trace, i) {
      var rows = trace && trace.meta && trace.meta.error_rows;
      if (!rows || trace.customdata) {
        return;
      }
      /* plain arrays (the hover looks up customdata[row][column] in arrays only), null where no error */
      var filled = rows.map(function (row) {
        if (row >= 0 && row < cube.nt) {
          return Array.from(cube.error.subarray(row * nw, (row + 1) * nw), function (v) { return v === v ? v : null; });
        }
        none = none || new Array(nw).fill(null);
        return none;
      });
      trace.customdata = filled;  /* kept by later restyles and relayouts */
      var full = gd._fullData && gd._fullData[i];
      if (full && full.index === i) {
        full.customdata = filled;  /* what the hover reads, without drawing again ... */
        if (full._arrayAttrs && full._arrayAttrs.indexOf("customdata") < 0) {
          full._arrayAttrs.push("customdata");  /* ... among the per-point arrays it looks up */
        }
      }
    });
  }

  function heatmapDiv() {
    return document.querySelector("#" + HEATMAP_GRAPH + " .js-plotly-plot");
  }

  function watchHeatmap() {
    var gd = heatmapDiv();
    if (gd && gd.on && !gd.__stampHoverErrors) {
      gd.__stampHoverErrors = true;
      gd.on("plotly_afterplot", function () { fillHoverErrors(gd); });
    }
    fillHoverErrors(gd);
  }

  /* Index of the value of ascending `values` (restricted to [lo, hi)) nearest to `x`. */
  function nearest(values, x, lo, hi) {
    lo = lo || 0;
    hi = hi === undefined ? values.length : hi;
    var a = lo, b = hi - 1;
    while (b - a > 1) {
      var mid = (a + b) >> 1;
      if (values[mid] < x) { a = mid; } else { b = mid; }
    }
    return Math.abs(values[a] - x) <= Math.abs(values[b] - x) ? a : b;
  }

  function finite(v) {
    return v !== null && v !== undefined && isFinite(v);
  }

  /* The cube's {row, column} under a Plotly click / hover on a map graph. */
  function pointOf(graphId, event, cube) {
    var pt = event && event.points && event.points[0];
    if (!pt || !finite(pt.x) || !finite(pt.y)) {
      return null;
    }
    var gd = graphDiv(graphId);
    var trace = gd && gd.data ? gd.data[pt.curveNumber] : null;
    var visit = trace && trace.meta && finite(trace.meta.visit) ? trace.meta.visit : null;
    var lo = 0, hi = cube.nt;
    if (visit !== null) {
      lo = cube.visit.indexOf(visit);
      hi = cube.visit.lastIndexOf(visit) + 1;
      if (lo < 0) { lo = 0; hi = cube.nt; }
    }
    var sideBySide = gd && gd.layout && gd.layout.meta && gd.layout.meta.visits_side_by_side;
    var drawn = timeAxisOf(gd && gd.layout && gd.layout.meta); /* the map's y is in its own unit */
    var hours = Number(pt.y) / drawn.per_hour + (sideBySide ? cube.hours[lo] : 0); /* side by side: since the visit's start */
    return { row: nearest(cube.hours, hours, lo, hi), column: nearest(cube.wavelength, Number(pt.x)) };
  }

  function withCrosshair(layout, x, y, yref) {
    var kept = (layout.shapes || []).filter(function (s) { return !s || s.name !== CROSSHAIR_SHAPE; });
    var line = { color: "rgb(204,0,204)", width: 1.5 };
    kept.push({ name: CROSSHAIR_SHAPE, type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1, line: line });
    if (finite(y)) {
      kept.push({ name: CROSSHAIR_SHAPE, type: "line", xref: "paper", yref: yref || "y", x0: 0, x1: 1, y0: y, y1: y, line: line });
    }
    return Object.assign({}, layout, { shapes: kept });
  }

  function unitText(data) {
    return data.unit ? " " + data.unit : "";
  }

  function format(v, digits) {
    return finite(v) ? Number(v).toPrecision(digits) : "no data";
  }

  /* Spectrum of `row`: ribbon x, y (stampBandPolygons of stamp_dashboard.js), x, y, error. */
  function spectrumOf(cube, row) {
    var w = cube.nw, x = Array.from(cube.wavelength), y = new Array(w), e = new Array(w);
    for (var k = 0; k < w; k++) {
      var v = cube.value[row * w + k], err = cube.error[row * w + k];
      y[k] = finite(v) ? v : null;
      e[k] = finite(err) ? err : null;
    }
    var band = window.stampBandPolygons(x, y, e);
    return { rx: band.x, ry: band.y, x: x, y: y, e: e };
  }

  /* A time series over rows with a null after every break: `at(row)` -> [value, error]. */
  function seriesOf(cube, at) {
    var x = [], y = [], e = [], rx = [], ry = [], lower = [];
    function closeRibbon() {
      for (var j = lower.length - 1; j >= 0; j--) {
        rx.push(lower[j][0]);
        ry.push(lower[j][1]);
      }
      if (lower.length) {
        rx.push(null);
        ry.push(null);
      }
      lower = [];
    }
    for (var i = 0; i < cube.nt; i++) {
      var ve = at(i), t = cube.times[i];
      x.push(t);
      y.push(finite(ve[0]) ? ve[0] : null);
      e.push(finite(ve[1]) ? ve[1] : null);
      if (finite(ve[0]) && finite(ve[1])) {
        rx.push(t);
        ry.push(ve[0] + ve[1]);
        lower.push([t, ve[0] - ve[1]]);
      } else {
        closeRibbon();
      }
      if (cube.breaks[i]) {
        x.push(null); y.push(null); e.push(null);
        closeRibbon();
      }
    }
    closeRibbon();
    return { rx: rx, ry: ry, x: x, y: y, e: e };
  }

  /* Inverse-variance mean of the columns [c0, c1) of `row` (the engine's band average). */
  function bandMean(cube, row, c0, c1) {
    var sw = 0, swv = 0;
    for (var k = c0; k < c1; k++) {
      var v = cube.value[row * cube.nw + k], err = cube.error[row * cube.nw + k];
      if (finite(v) && finite(err) && err > 0) {
        sw += 1 / (err * err);
        swv += v / (err * err);
      }
    }
    return sw > 0 ? [swv / sw, 1 / Math.sqrt(sw)] : [null, null];
  }

  function filled(trace, series, withError) {
    var copy = Object.assign({}, trace, { x: series.x, y: series.y });
    if (withError) {
      copy.customdata = series.e;
    }
    return copy;
  }

  function ribbon(trace, series) {
    return Object.assign({}, trace, { x: series.rx, y: series.ry });
  }

  function titled(layout, text) {
    return Object.assign({}, layout, { title: Object.assign({}, layout.title, { text: text }) });
  }

  function drawSpectrum(figure, data, cube, point, band, bands) {
    var s = spectrumOf(cube, point.row);
    var y0 = cube.value[point.row * cube.nw + point.column];
    var traces = figure.data.map(function (trace, i) {
      return i === 0 ? ribbon(trace, s) : i === 1 ? filled(trace, s, true) : trace;
    });
    var label = data.visit.length && Math.max.apply(null, data.visit) > 0 ? ", visit " + (data.visit[point.row] + 1) : "";
    var layout = titled(withCrosshair(figure.layout, cube.wavelength[point.column], y0),
      data.target + " — spectrum at t = " + timeText(cube.axis, cube.hours[point.row]) + " (row " + (point.row + 1) +
      " of " + cube.nt + label + "); λ = " + cube.wavelength[point.column].toFixed(4) + " µm: " +
      format(y0, 4) + unitText(data));
    var out = Object.assign({}, figure, { data: traces, layout: layout });
    return window.stampHighlight ? window.stampHighlight(out, band, bands) : out;
  }

  function bandColumns(cube, band, bands) {
    var chosen = (bands || []).filter(function (b) { return b && b.name === band; })[0];
    if (!chosen) {
      return null;
    }
    var c0 = 0, c1 = 0;
    while (c0 < cube.nw && cube.wavelength[c0] < chosen.start) { c0++; }
    c1 = c0;
    while (c1 < cube.nw && cube.wavelength[c1] <= chosen.end) { c1++; }
    if (c1 === c0 && chosen.start <= cube.wavelength[cube.nw - 1] && chosen.end >= cube.wavelength[0]) {
      c0 = nearest(cube.wavelength, 0.5 * (chosen.start + chosen.end));
      c1 = c0 + 1; /* narrower than a column: the nearest one, as on the map */
    }
    return c1 > c0 ? { name: chosen.name, c0: c0, c1: c1 } : null;
  }

  function drawLightCurve(figure, data, cube, point, band, bands) {
    var column = point.column, w = cube.nw;
    var s = seriesOf(cube, function (i) { return [cube.value[i * w + column], cube.error[i * w + column]]; });
    var y0 = cube.value[point.row * w + column];
    var span = bandColumns(cube, band, bands);
    var traces = figure.data.map(function (trace, i) {
      if (i === 0) { return ribbon(trace, s); }
      if (i === 1) { return filled(trace, s, true); }
      if (trace.meta && trace.meta.role === "band-curve") {
        if (!span) { return Object.assign({}, trace, { x: [], y: [], visible: false }); }
        var b = seriesOf(cube, function (r) { return bandMean(cube, r, span.c0, span.c1); });
        return Object.assign({}, trace, { x: b.x, y: b.y, visible: true,
          name: span.name + " (mean of " + (span.c1 - span.c0) + " columns)" });
      }
      return trace;
    });
    var layout = titled(withCrosshair(figure.layout, cube.times[point.row], y0),
      data.target + " — light curve at λ = " + cube.wavelength[column].toFixed(4) + " µm (column " + (column + 1) +
      " of " + w + "); t = " + timeText(cube.axis, cube.hours[point.row]) + ": " + format(y0, 4) + unitText(data));
    return Object.assign({}, figure, { data: traces, layout: layout });
  }

  function triggeredIds() {
    return (window.dash_clientside.callback_context.triggered || []).map(function (t) { return t.prop_id; });
  }

  /* A box's [start, end] along x from Plotly selectedData (box or lasso), else null. */
  function boxRange(selected) {
    if (!selected) {
      return null;
    }
    var range = selected.range || selected.lassoPoints;
    var key = range && Object.keys(range).filter(function (k) { return /^x\d*$/.test(k); })[0];
    var xs = key ? range[key] : (selected.points || []).map(function (p) { return p.x; });
    xs = (xs || []).filter(finite).map(Number);
    if (xs.length < 2) {
      return null;
    }
    var lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs);
    return hi > lo ? [lo, hi] : null;
  }

  function rounded(v, digits) {
    var f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  function message(text, color) {
    return {
      namespace: "dash_bootstrap_components", type: "Alert",
      props: { children: text, color: color || "info", className: "py-1 px-2 small mb-0" },
    };
  }

  var WINDOW_NAMES = { baseline: "Baseline window", in_transit: "In-transit window" };

  /* Whether `data` is the payload of the result the map `graph` shows (a new result's map may be drawn before its payload comes). */
  function payloadOf(graph, data) {
    if (!data || !data.n_time) {
      return false;
    }
    var gd = graphDiv(graph);
    var shows = gd && gd.layout && gd.layout.meta && gd.layout.meta.result;
    return !shows || !data.result || shows === data.result;
  }

  /* Milliseconds the page waits, after a map is drawn, before it asks for the payload unprompted. */
  var WANT_AFTER_MS = 500;
  var wantedCount = 0;

  /* A pick made before the payload came: {graph, event}, answered when the payload comes. */
  var pendingPick = null;

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    stampExplore: {
      /*
       * When to ask for the exploration's payload (EXPLORE_WANTED): at the first pointer on a map,
       * or once the page has been idle WANT_AFTER_MS after a map was drawn, whichever comes first.
       */
      wanted: function (tab, heatmapDrawn, surfaceDrawn) {
        if (tab !== "tab-heatmap" && tab !== "tab-surface") {
          return noUpdate();
        }
        var asked = { tab: tab, heatmap: heatmapDrawn || null, surface: surfaceDrawn || null, n: ++wantedCount };
        return new Promise(function (resolve) {
          var graphs = Object.keys(MAP_GRAPHS).map(function (id) { return document.getElementById(id); })
            .filter(Boolean);
          var timer = null, done = false;
          function ask() {
            if (done) {
              return;
            }
            done = true;
            clearTimeout(timer);
            graphs.forEach(function (el) {
              el.removeEventListener("pointerover", ask);
              el.removeEventListener("pointerdown", ask);
            });
            resolve(asked);
          }
          graphs.forEach(function (el) {
            el.addEventListener("pointerover", ask);
            el.addEventListener("pointerdown", ask);
          });
          timer = setTimeout(function () {
            if (window.requestIdleCallback) {
              window.requestIdleCallback(ask, { timeout: 1000 });
            } else {
              ask();
            }
          }, WANT_AFTER_MS);
        });
      },

      /* The point a click (or a hover with Shift held) on the heatmap or surface picks. */
      pick: function (clickHeat, clickSurface, hoverHeat, hoverSurface, data, current) {
        /* Dash holds a click made while the payload is on its way and runs this once it has come,
           with every trigger at once: a click counts before a hover, and both before the payload. */
        var events = { "heatmap-graph.clickData": clickHeat, "surface-graph.clickData": clickSurface,
                       "heatmap-graph.hoverData": hoverHeat, "surface-graph.hoverData": hoverSurface };
        var triggers = triggeredIds();
        var trigger = ["clickData", "hoverData", "data"].reduce(function (found, prop) {
          return found || triggers.filter(function (t) {
            return t.split(".")[1] === prop && (prop !== "hoverData" || shiftHeld);
          })[0];
        }, null) || "";
        var graph = trigger.split(".")[0], prop = trigger.split(".")[1];
        var event = events[trigger];
        if (trigger === "explore-data.data") {
          if (!pendingPick || !payloadOf(pendingPick.graph, data)) {
            return noUpdate();
          }
          graph = pendingPick.graph;
          event = pendingPick.event;
          pendingPick = null;
        } else if (!MAP_GRAPHS[graph] || (prop === "hoverData" && !shiftHeld)) {
          return noUpdate();
        } else if (!payloadOf(graph, data)) {
          pendingPick = { graph: graph, event: event };
          return noUpdate();
        }
        var point = pointOf(graph, event, decode(data));
        if (!point || (current && current.row === point.row && current.column === point.column)) {
          return noUpdate();
        }
        return point;
      },

      /* Both panels through `point`, following the highlighted band. */
      draw: function (point, band, data, bands, spectrum, lightCurve) {
        if (!data || !data.n_time || !point || !spectrum || !lightCurve || !spectrum.data || !lightCurve.data) {
          return [noUpdate(), noUpdate(), noUpdate()];
        }
        var cube = decode(data);
        if (point.row >= cube.nt || point.column >= cube.nw) {
          return [noUpdate(), noUpdate(), noUpdate()];
        }
        return [drawSpectrum(spectrum, data, cube, point, band, bands),
                drawLightCurve(lightCurve, data, cube, point, band, bands), { display: "none" }];
      },

      /* A new exploration payload: the heatmap's hover errors come from it (see fillHoverErrors). */
      hoverErrors: function (data) {
        hoverPayload = data && data.n_time ? data : null;
        watchHeatmap();
        return noUpdate();
      },

      /* Panels beside the maps only. */
      shown: function (tab) {
        return tab === "tab-heatmap" || tab === "tab-surface" ? {} : { display: "none" };
      },

      /*
       * A box on a light curve: the baseline or in-transit window (WINDOWS_STORE, and the
       * baseline normalization's inputs), or the time range.  Outputs: windows, baseline
       * start, end, time min, max, message.
       */
      timeBox: function (onCurves, onPanel, target, windows) {
        var keep = [noUpdate(), noUpdate(), noUpdate(), noUpdate(), noUpdate()];
        var trigger = triggeredIds()[0] || "";
        var range = boxRange(trigger.indexOf("explore") === 0 ? onPanel : onCurves);
        if (!range) {
          return keep.concat([noUpdate()]);
        }
        /* the box is in the curve's display unit; windows and the time range are in hours */
        var gd = graphDiv(trigger.split(".")[0]);
        var axis = timeAxisOf(gd && gd.layout && gd.layout.meta);
        var lo = rounded(range[0] / axis.per_hour, 7), hi = rounded(range[1] / axis.per_hour, 7);
        var text = lo + "–" + hi + " h" + (axis.unit === "h" ? "" : " (" + timeText(axis, lo) + " to " + timeText(axis, hi) + ")");
        if (target === "time range") {
          return [noUpdate(), noUpdate(), noUpdate(), lo, hi,
                  message("Time range set to " + text + ": press Process to apply it.")];
        }
        var next = Object.assign({ baseline: null, in_transit: null }, windows || {});
        next[target] = [lo, hi];
        var said = WINDOW_NAMES[target] + " set to " + text + " (hours since the first integration)";
        if (target === "baseline") {
          return [next, lo, hi, noUpdate(), noUpdate(),
                  message(said + "; the baseline normalization uses it when you press Process.")];
        }
        return [next, noUpdate(), noUpdate(), noUpdate(), noUpdate(), message(said + ".")];
      },

      /* A box on a spectrum: a new band row, or the wavelength range. Outputs: band rows, min, max, message. */
      waveBox: function (onPlayer, onPanel, target, rows) {
        var trigger = triggeredIds()[0] || "";
        var range = boxRange(trigger.indexOf("explore") === 0 ? onPanel : onPlayer);
        if (!range) {
          return [noUpdate(), noUpdate(), noUpdate(), noUpdate()];
        }
        var lo = rounded(range[0], 4), hi = rounded(range[1], 4);
        if (target === "wavelength range") {
          return [noUpdate(), lo, hi, message("Wavelength range set to " + lo + "–" + hi +
                                               " µm: press Process to apply it.")];
        }
        var name = lo.toFixed(3) + "–" + hi.toFixed(3) + " µm";
        var list = (rows || []).filter(function (r) { return r && r.name !== name; });
        list.push({ name: name, start: lo, end: hi });
        return [list, noUpdate(), noUpdate(), message("Band " + name + " added to the band editor.")];
      },
    },
  });
})();
