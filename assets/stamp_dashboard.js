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

  /*
   * The ±1σ band of a curve as fill "toself" coordinates, as stamp_engine.figures.common
   * error_band_polygons builds it: one closed polygon (upper edge forward, lower edge back)
   * per run of points where x, value and error are finite, null between polygons.  One
   * polygon with a gap inside makes Plotly close the wrong vertices.  Shared with
   * stamp_explore.js (window.stampBandPolygons).
   */
  function finite(v) {
    return v !== null && v !== undefined && isFinite(v);
  }

  function bandPolygons(x, value, error) {
    var bx = [], by = [], start = -1, n = value.length;
    function close(stop) {
      if (start < 0) {
        return;
      }
      if (bx.length) {
        bx.push(null);
        by.push(null);
      }
      for (var k = start; k < stop; k++) {
        bx.push(x[k]);
        by.push(value[k] + error[k]);
      }
      for (var j = stop - 1; j >= start; j--) {
        bx.push(x[j]);
        by.push(value[j] - error[j]);
      }
      start = -1;
    }
    for (var i = 0; i < n; i++) {
      var ok = finite(x[i]) && finite(value[i]) && finite(error[i]);
      if (ok && start < 0) {
        start = i;
      } else if (!ok) {
        close(i);
      }
    }
    close(n);
    return { x: bx, y: by };
  }
  window.stampBandPolygons = bandPolygons;

  /* Id of the spectrum player's graph (dashboard/ids.py SPECTRUM). */
  var SPECTRUM_GRAPH = "spectrum-graph";
  /* The heatmap's graph and tab (dashboard/ids.py HEATMAP, TAB_HEATMAP). */
  var HEATMAP_GRAPH = "heatmap-graph";
  var HEATMAP_TAB = "tab-heatmap";

  /*
   * The stops of a scale on the range lo…hi: for a diverging scale of a variability map, its
   * stamp_engine.colour.centring_stops ([a, b, colour]: at a + b·z, z where 0 falls on lo…hi),
   * so that 0 gets the centre colour; the rule itself lives only there.  The scale as it is when
   * the range does not contain 0 (stamp_engine.colour.zero_position).
   */
  function stopsOn(entry, lo, hi) {
    if (!entry.centring || !(lo < 0 && 0 < hi)) {
      return entry.stops;
    }
    var zero = -lo / (hi - lo);
    return entry.centring.map(function (s) { return [s[0] + s[1] * zero, s[2]]; });
  }

  /* The colour axis for scale `name` ("auto" or empty: the figure's default) and range lo…hi (both
     numbers, lo < hi; anything else: the automatic range), from the heatmap's layout.meta.colour. */
  function colourAxis(colour, name, lo, hi) {
    var scale = colour.scales[name] ? name : colour.default;
    var manual = typeof lo === "number" && typeof hi === "number" && isFinite(lo) && isFinite(hi) && lo < hi;
    var limits = manual ? [lo, hi] : colour.auto;
    var entry = colour.scales[scale];
    var axis = { colorscale: limits ? stopsOn(entry, limits[0], limits[1]) : entry.stops };
    if (limits) {
      axis.cmin = limits[0];
      axis.cmax = limits[1];
    }
    return axis;
  }

  /* ---------------------------------------------------------------- heatmap re-colouring
   * Plotly re-colours a heatmap by recalculating and redrawing every trace, one canvas
   * fillRect per cell (~1 s for a 600 × 400 map in software rendering).  Here the image
   * Plotly drew for each heatmap trace is repainted from the same cells, at the same pixels
   * (Plotly's cell edges: round(axis.c2p(edge) − image left)), through a colour table; cells
   * without a value stay transparent (the gap colour shows through).  The colour axis in the
   * layout is then set to the same scale and range, so the colour bar and any later redraw
   * by Plotly (zoom, resize) agree with the picture.
   */
  var TABLE_SIZE = 4096;

  /* [r, g, b, a] (a 0…1) of a CSS colour as Plotly's scales write them: #rgb, #rrggbb, rgb(), rgba(). */
  function rgbaOf(text) {
    var s = String(text).trim();
    if (s.charAt(0) === "#") {
      var h = s.length === 4 ? s.slice(1).split("").map(function (c) { return c + c; }).join("") : s.slice(1);
      return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16), 1];
    }
    var parts = s.slice(s.indexOf("(") + 1, s.lastIndexOf(")")).split(",").map(parseFloat);
    return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
  }

  /* TABLE_SIZE colours (RGBA bytes packed little-endian, as an ImageData's Uint32 view reads them)
     at evenly spaced positions 0…1 of `stops`, interpolated linearly in RGBA as plotly.js does. */
  function colourTable(stops) {
    var pos = stops.map(function (s) { return s[0]; });
    var rgba = stops.map(function (s) { return rgbaOf(s[1]); });
    var table = new Uint32Array(TABLE_SIZE);
    var k = 1;
    for (var i = 0; i < TABLE_SIZE; i++) {
      var t = i / (TABLE_SIZE - 1);
      while (k < pos.length - 1 && pos[k] < t) { k++; }
      var a = rgba[k - 1] || rgba[0], b = rgba[k] || a;
      var span = pos[k] - pos[k - 1];
      var f = !(span > 0) ? 1 : Math.min(Math.max((t - pos[k - 1]) / span, 0), 1);
      if (t <= pos[0]) { f = 0; b = a = rgba[0]; }
      table[i] = ((Math.round((a[3] + f * (b[3] - a[3])) * 255) << 24) | (Math.round(a[2] + f * (b[2] - a[2])) << 16) |
                  (Math.round(a[1] + f * (b[1] - a[1])) << 8) | Math.round(a[0] + f * (b[0] - a[0]))) >>> 0;
    }
    return table;
  }

  /* Pixel offsets (0…size) of cell edges `edges` on axis `ax`, from `origin` (px). */
  function pixelEdges(ax, edges, origin, size) {
    var out = new Int32Array(edges.length);
    for (var i = 0; i < edges.length; i++) {
      out[i] = Math.min(Math.max(Math.round(ax.c2p(edges[i]) - origin), 0), size);
    }
    return out;
  }

  /* Repaint one heatmap trace's <image> (bound by Plotly to the trace's calcdata) through `table` on lo…hi. */
  function paintHeatmapImage(gd, image, table, lo, hi) {
    var cd = image.__data__;
    var trace = cd && cd.trace;
    if (!trace || !cd.z || !cd.x || !cd.y) {
      return false;
    }
    var xa = gd._fullLayout["xaxis" + (trace.xaxis || "x").slice(1)];
    var ya = gd._fullLayout["yaxis" + (trace.yaxis || "y").slice(1)];
    /* the image's extent as plotly.js computes it for an unsmoothed heatmap */
    var left = xa.c2p(cd.x[0]), right = xa.c2p(cd.x[cd.x.length - 1]);
    var top = ya.c2p(cd.y[0]), bottom = ya.c2p(cd.y[cd.y.length - 1]);
    if (right < left) { var swap = left; left = right; right = swap; }
    if (bottom < top) { swap = top; top = bottom; bottom = swap; }
    left = Math.max(-0.5 * xa._length, left);
    right = Math.min(1.5 * xa._length, right);
    top = Math.max(-0.5 * ya._length, top);
    bottom = Math.min(1.5 * ya._length, bottom);
    var width = Math.round(right - left), height = Math.round(bottom - top);
    if (!(width > 0 && height > 0) || Number(image.getAttribute("width")) !== width ||
        Number(image.getAttribute("height")) !== height) {
      return false; /* not the picture Plotly drew: let Plotly redraw */
    }
    var columns = pixelEdges(xa, cd.x, left, width), rows = pixelEdges(ya, cd.y, top, height);
    var canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    var context = canvas.getContext("2d");
    var picture = context.createImageData(width, height);
    var pixels = new Uint32Array(picture.data.buffer);
    var scale = (TABLE_SIZE - 1) / (hi - lo), last = TABLE_SIZE - 1;
    var colours = new Uint32Array(columns.length);
    for (var r = 0; r < cd.z.length; r++) {
      var y0 = Math.min(rows[r], rows[r + 1]), y1 = Math.max(rows[r], rows[r + 1]);
      var z = cd.z[r];
      if (y0 === y1 || !z) {
        continue;
      }
      for (var c = 0; c < z.length; c++) {
        var v = z[c];
        /* NaN or missing: transparent (0), as plotly.js draws it */
        colours[c] = v === undefined || v === null || v !== v ? 0
          : table[Math.min(Math.max(Math.round((v - lo) * scale), 0), last)];
      }
      var start = y0 * width;
      for (c = 0; c < z.length; c++) {
        var x0 = Math.min(columns[c], columns[c + 1]), x1 = Math.max(columns[c], columns[c + 1]);
        if (x1 > x0 && colours[c]) {
          pixels.fill(colours[c], start + x0, start + x1);
        }
      }
      for (var y = y0 + 1; y < y1; y++) {
        pixels.copyWithin(y * width, start, start + width);
      }
    }
    context.putImageData(picture, 0, 0);
    image.setAttribute("href", canvas.toDataURL("image/png"));
    return true;
  }

  /* ---------------------------------------------------------------- saturation note
   * The colour bar's title says where the colour range clips and how many cells lie beyond
   * it; the same text as stamp_engine.colour.clip_note (a test compares them), counted here
   * over the cells plotly.js drew (every heatmap trace's calcdata), so it follows a typed range.
   */
  function formatG3(v) { /* Python's f"{v:.3g}", with a true minus sign */
    if (v === 0) { return "0"; }
    var exponent = Number(v.toExponential(2).split("e")[1]);
    var text;
    if (exponent < -4 || exponent >= 3) {
      var parts = v.toExponential(2).split("e");
      var digits = Math.abs(exponent) < 10 ? "0" + Math.abs(exponent) : String(Math.abs(exponent));
      text = parts[0].replace(/\.?0+$/, "") + "e" + (exponent < 0 ? "-" : "+") + digits;
    } else {
      text = v.toFixed(Math.max(0, 2 - exponent));
      if (text.indexOf(".") >= 0) { text = text.replace(/\.?0+$/, ""); }
    }
    return text.replace(/-/g, "\u2212");
  }

  function clipNote(lo, hi, fraction, unit) {
    var unitText = unit ? " " + unit : "";
    var span = Math.abs(lo + hi) <= 1e-6 * Math.abs(hi) ? "\u00b1" + formatG3(hi) : formatG3(lo) + "\u2026" + formatG3(hi);
    if (!isFinite(fraction)) { return "clipped at " + span + unitText; }
    var share = fraction === 0 ? "0 %" : fraction < 0.001 ? "< 0.1 %" : (100 * fraction).toFixed(1) + " %";
    return "clipped at " + span + unitText + ": " + share + " of cells beyond";
  }

  /* Fraction of the drawn heatmap cells (finite values) outside lo…hi; NaN when none is finite. */
  function clipFraction(gd, lo, hi) {
    var finite = 0, beyond = 0;
    (gd.calcdata || []).forEach(function (cd) {
      var z = cd && cd[0] && cd[0].trace && cd[0].trace.type === "heatmap" ? cd[0].z : null;
      for (var r = 0; z && r < z.length; r++) {
        var row = z[r] || [];
        for (var c = 0; c < row.length; c++) {
          var v = row[c];
          if (typeof v === "number" && v === v) {
            finite++;
            if (v < lo || v > hi) { beyond++; }
          }
        }
      }
    });
    return finite ? beyond / finite : NaN;
  }

  /* The colour bar's title for `axis` on the drawn map, from the template the figure carries (null: none). */
  function clipTitle(gd, colour, axis) {
    var clip = colour && colour.clip;
    if (!clip || axis.cmin === undefined) { return null; }
    return clip.title.replace(clip.slot, clipNote(axis.cmin, axis.cmax, clipFraction(gd, axis.cmin, axis.cmax), clip.unit));
  }

  /*
   * Re-colour the drawn heatmap `gd` to `axis` ({colorscale, cmin, cmax}): its images repainted
   * here, its colour bar by Plotly (a colour-bar-only update, no recalculation).  Plotly.update,
   * not relayout: dcc.Graph copies a plotly_relayout back into its figure and redraws it all.
   * Returns false (nothing changed) when the picture is not one this can repaint.
   */
  function recolourHeatmap(gd, axis, title) {
    var layoutAxis = gd.layout && gd.layout.coloraxis;
    var images = gd.querySelectorAll("g.hm image");
    if (!layoutAxis || !images.length || axis.cmin === undefined || !gd._fullLayout || !gd.calcdata) {
      return false;
    }
    var table = colourTable(axis.colorscale);
    for (var i = 0; i < images.length; i++) {
      if (!paintHeatmapImage(gd, images[i], table, axis.cmin, axis.cmax)) {
        return false;
      }
    }
    layoutAxis.colorscale = axis.colorscale;
    layoutAxis.cmin = axis.cmin;
    layoutAxis.cmax = axis.cmax;
    var side = (layoutAxis.colorbar && layoutAxis.colorbar.title && layoutAxis.colorbar.title.side) || "right";
    var edit = { "coloraxis.colorbar.title.side": side };
    if (title) { edit["coloraxis.colorbar.title.text"] = title; }
    window.Plotly.update(gd, {}, edit);
    return true;
  }

  /* The spectrum player's frames, decoded once per frames object. */
  var decodedFrames = new WeakMap();
  function decodeFrames(frames) {
    var decoded = decodedFrames.get(frames);
    if (!decoded) {
      decoded = { value: float32(frames.value), error: float32(frames.error), reference: float32(frames.reference),
        wavelength: float32(frames.wavelength) };
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
       * A colour scale or range chosen: the shown heatmap is re-coloured in place (recolourHeatmap,
       * no request).  Anything else (another tab shown, a stretched map, no heatmap drawn yet) is
       * left to the server: the returned request redraws the shown view.
       */
      applyColour: function (name, lo, hi, activeTab) {
        var gd = document.querySelector("#" + HEATMAP_GRAPH + " .js-plotly-plot");
        var colour = gd && gd.layout && gd.layout.meta && gd.layout.meta.colour;
        if (activeTab !== HEATMAP_TAB || !colour || colour.stretch !== "linear" || !window.Plotly) {
          return { colorscale: name, range: [lo, hi], at: Date.now() };
        }
        var axis = colourAxis(colour, name, lo, hi);
        var title = clipTitle(gd, colour, axis);
        if (!recolourHeatmap(gd, axis, title)) {
          var edit = { "coloraxis.colorscale": axis.colorscale };
          if (title) { edit["coloraxis.colorbar.title.text"] = title; }
          if (axis.cmin !== undefined) {
            edit["coloraxis.cmin"] = axis.cmin;
            edit["coloraxis.cmax"] = axis.cmax;
          }
          window.Plotly.update(gd, {}, edit);
        }
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
        var band = bandPolygons(decoded.wavelength, value, error);
        var xs = [band.x, decoded.wavelength, decoded.wavelength];
        var ys = [band.y, value, decoded.reference.subarray(visit * w, (visit + 1) * w)];
        var triggered = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
          return t.prop_id;
        });
        var onlySlider = triggered.length > 0 && triggered.every(function (p) {
          return p.indexOf(".value") >= 0;
        });
        var gd = document.querySelector("#" + SPECTRUM_GRAPH + " .js-plotly-plot");
        if (onlySlider && gd && window.Plotly && gd.data && gd.data.length >= 3) {
          window.Plotly.update(gd, { x: xs, y: ys, customdata: [error, error, error] },
            { "title.text": frames.titles[i] }, [0, 1, 2]);
          return noUpdate();
        }
        var data = figure.data.map(function (trace, t) {
          if (t > 2) {
            return trace;
          }
          var copy = Object.assign({}, trace, { y: ys[t] });
          if (t === 0) {
            copy.x = xs[0];
          }
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
