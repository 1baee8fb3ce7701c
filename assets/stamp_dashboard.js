/*
 * Browser-side callbacks of the STAMP dashboard (namespace "stampDashboard").
 * Band selection and highlighting live in stamp_bands.js (namespace "stamp").
 * None of these functions talks to the server.
 */
(function () {
  "use strict";

  var noUpdate = function () {
    return window.dash_clientside.no_update;
  };

  /* Float32Array of a base64 string of little-endian float32 values. */
  function float32(b64) {
    var bytes = atob(b64);
    var buffer = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) {
      buffer[i] = bytes.charCodeAt(i);
    }
    return new Float32Array(buffer.buffer);
  }

  /* Id of the spectrum player's graph (dashboard/ids.py SPECTRUM). */
  var SPECTRUM_GRAPH = "spectrum-graph";
  /* The heatmap's graph and tab (dashboard/ids.py HEATMAP, TAB_HEATMAP). */
  var HEATMAP_GRAPH = "heatmap-graph";
  var HEATMAP_TAB = "tab-heatmap";

  /*
   * stamp_engine.colour.centred_colorscale on explicit stops: the lower half spread over
   * lo…0, the upper half over 0…hi, `centre` (the scale's colour at 0.5) at 0.
   */
  function centredStops(stops, centre, lo, hi) {
    if (!(lo < 0 && 0 < hi)) {
      return stops;
    }
    var zero = -lo / (hi - lo);
    if (Math.abs(zero - 0.5) <= 1e-8 + 1e-5 * 0.5) {
      return stops;
    }
    var out = [];
    stops.forEach(function (s) { if (s[0] < 0.5) { out.push([s[0] / 0.5 * zero, s[1]]); } });
    out.push([zero, centre]);
    stops.forEach(function (s) { if (s[0] > 0.5) { out.push([zero + (s[0] - 0.5) / 0.5 * (1 - zero), s[1]]); } });
    if (stops.length && stops[stops.length - 1][0] < 1) {
      out.push([1, stops[stops.length - 1][1]]);
    }
    return out;
  }

  /* The colour axis for scale `name` ("auto" or empty: the figure's default) and range lo…hi (both
     numbers, lo < hi; anything else: the automatic range), from the heatmap's layout.meta.colour. */
  function colourAxis(colour, name, lo, hi) {
    var scale = colour.scales[name] ? name : colour.default;
    var manual = typeof lo === "number" && typeof hi === "number" && isFinite(lo) && isFinite(hi) && lo < hi;
    var limits = manual ? [lo, hi] : colour.auto;
    var entry = colour.scales[scale];
    var stops = entry.stops;
    if (limits && colour.centre_zero.indexOf(scale) >= 0) {
      stops = centredStops(stops, entry.centre, limits[0], limits[1]);
    }
    var axis = { "coloraxis.colorscale": stops };
    if (limits) {
      axis["coloraxis.cmin"] = limits[0];
      axis["coloraxis.cmax"] = limits[1];
    }
    return axis;
  }

  /* The spectrum player's frames, decoded once per frames object. */
  var decodedFrames = new WeakMap();
  function decodeFrames(frames) {
    var decoded = decodedFrames.get(frames);
    if (!decoded) {
      decoded = { value: float32(frames.value), error: float32(frames.error), reference: float32(frames.reference) };
      decodedFrames.set(frames, decoded);
    }
    return decoded;
  }

  function alertDiv(text, color) {
    return {
      namespace: "dash_bootstrap_components",
      type: "Alert",
      props: { children: text, color: color, className: "py-2 small mb-0" },
    };
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    stampDashboard: {
      /* The job message after Cancel. */
      cancelled: function (nClicks) {
        return nClicks ? alertDiv("Cancelled: the views still show the previous result.", "secondary") : noUpdate();
      },

      /*
       * A colour scale or range chosen: the shown heatmap is re-coloured in place (a relayout
       * of its colour axis, no request).  Anything else (another tab shown, a stretched map,
       * no heatmap drawn yet) is left to the server: the returned request redraws the shown view.
       */
      applyColour: function (name, lo, hi, activeTab) {
        var gd = document.querySelector("#" + HEATMAP_GRAPH + " .js-plotly-plot");
        var colour = gd && gd.layout && gd.layout.meta && gd.layout.meta.colour;
        if (activeTab !== HEATMAP_TAB || !colour || colour.stretch !== "linear" || !window.Plotly) {
          return { colorscale: name, range: [lo, hi], at: Date.now() };
        }
        window.Plotly.relayout(gd, colourAxis(colour, name, lo, hi));
        return noUpdate();
      },

      togglePlay: function (nClicks, disabled) {
        var playing = disabled; /* the interval was off: start it */
        return [!playing, playing ? "❚❚ Pause" : "▶ Play"];
      },

      /* Next frame, numbered from 1; after the last comes the first again. */
      nextFrame: function (nIntervals, value, max) {
        if (!max || max <= 1) {
          return noUpdate();
        }
        var next = (value || 1) + 1;
        return next > max ? 1 : next;
      },

      /* Milliseconds between frames for a speed in frames per second. */
      playInterval: function (fps) {
        var rate = parseFloat(fps);
        return rate > 0 ? Math.round(1000 / rate) : noUpdate();
      },

      /*
       * Draw frame `position` (from 1) of the spectrum player from the frames sent once
       * (base64 float32, decoded once per frames object); no request to the server.
       * A slider move (or Play) restyles the drawn plot in place, which is much cheaper
       * than handing Dash a new figure; new frames from the server come with a new figure,
       * so that one is returned instead.
       */
      showFrame: function (position, frames, figure) {
        if (!frames || !frames.n || !figure || !Array.isArray(figure.data) || figure.data.length < 3) {
          return noUpdate();
        }
        var decoded = decodeFrames(frames);
        var i = Math.min(Math.max((position || 1) - 1, 0), frames.n - 1);
        var w = frames.w;
        var value = decoded.value.subarray(i * w, (i + 1) * w);
        var error = decoded.error.subarray(i * w, (i + 1) * w);
        var visit = Math.min(frames.visit[i] || 0, decoded.reference.length / w - 1);
        var ribbon = new Float32Array(2 * w);
        for (var k = 0; k < w; k++) {
          ribbon[k] = value[k] + error[k];
          ribbon[2 * w - 1 - k] = value[k] - error[k];
        }
        var ys = [ribbon, value, decoded.reference.subarray(visit * w, (visit + 1) * w)];
        var triggered = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
          return t.prop_id;
        });
        var onlySlider = triggered.length > 0 && triggered.every(function (p) {
          return p.indexOf(".value") >= 0;
        });
        var gd = document.querySelector("#" + SPECTRUM_GRAPH + " .js-plotly-plot");
        if (onlySlider && gd && window.Plotly && gd.data && gd.data.length >= 3) {
          window.Plotly.update(gd, { y: ys, customdata: [error, error, error] },
            { "title.text": frames.titles[i] }, [0, 1, 2]);
          return noUpdate();
        }
        var data = figure.data.map(function (trace, t) {
          if (t > 2) {
            return trace;
          }
          var copy = Object.assign({}, trace, { y: ys[t] });
          if (t === 1) {
            copy.customdata = error;
          }
          return copy;
        });
        var layout = Object.assign({}, figure.layout);
        layout.title = Object.assign({}, layout.title, { text: frames.titles[i] });
        return Object.assign({}, figure, { data: data, layout: layout });
      },
    },
  });
})();
