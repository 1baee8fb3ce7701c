/*
 * plotly.js (4.8 MB, ~0.6 s of script evaluation in a 2-core headless Chromium) fetched and run
 * while the page waits for its layout and first view from the server, instead of after the first
 * graph is rendered (dcc.Graph loads it then, on the critical path of the first heatmap).
 *
 * dcc.Graph waits on `Promise.resolve(window.Plotly || <load window._dashPlotlyJSURL>)`: until the
 * script has run, window.Plotly is a thenable settled by the script's load, so a graph rendered
 * before that waits for this copy instead of loading a second one.  plotly.min.js ends with
 * `window.Plotly = Plotly`, which replaces the thenable.
 *
 * It also makes Plotly.Plots.resize a no-op when the graph's size has not changed.  dcc.Graph
 * calls it after every graph's first drawing and whenever its container may have resized; for a
 * graph sized by its container, plotly.js answers with relayout({autosize: true}), whose implied
 * width/height edits redraw the whole figure even at the same size: a second drawing of every
 * figure (0.4 s for the first heatmap on a 2-core machine, seconds for a 3D surface).
 *
 * And a graph in a hidden tab is not drawn until its tab is shown: dcc.Graph draws every graph
 * as it mounts, so the page's nine hidden graphs (their "Processing…" placeholders) were drawn,
 * and resized twice each, in the second after the first heatmap, 0.2–0.3 s of main thread while
 * the user reaches for it.  Plotly.react on a never-drawn graph that has no box on the page
 * (display: none somewhere above it) is kept, the latest call winning, and made when the graph
 * gets a box (a ResizeObserver); the promise dcc.Graph waits on settles with that drawing.
 */
(function () {
  "use strict";

  /* the size plotly.js's plotAutoSize would give `gd` now (its computed style) */
  function autoSize(gd, full) {
    var style = window.getComputedStyle(gd);
    return {
      width: Math.max(parseFloat(style.width) || parseFloat(style.maxWidth) || full.width, 10),
      height: Math.max(parseFloat(style.height) || parseFloat(style.maxHeight) || full.height, 10),
    };
  }

  function skipSameSizeResize(plotly) {
    var plots = plotly && plotly.Plots;
    if (!plots || !plots.resize || plots.resize.stampSameSizeSkipped) {
      return;
    }
    var resize = plots.resize;
    plots.resize = function (graph) {
      var gd = typeof graph === "string" ? document.getElementById(graph) : graph;
      var full = gd && gd._fullLayout;
      /* a shown graph sized by its container, drawn, with nothing pending: otherwise plotly.js decides */
      if (full && gd.layout && !(gd.layout.width && gd.layout.height) && !gd._redrawTimer &&
          gd.offsetParent !== null && gd.clientHeight > 0) {
        var size = autoSize(gd, full);
        if (Math.abs(size.width - full.width) <= 1 && Math.abs(size.height - full.height) <= 1) {
          return Promise.resolve(gd);
        }
      }
      return resize.apply(this, arguments);
    };
    plots.resize.stampSameSizeSkipped = true;
  }

  function hasBox(gd) {
    return gd.getClientRects().length > 0;
  }

  function deferHiddenFirstDrawings(plotly) {
    if (!plotly || !plotly.react || plotly.react.stampHiddenDeferred || typeof ResizeObserver !== "function") {
      return;
    }
    var react = plotly.react;
    var waiting = new Map(); /* graph div → {args, settle: [[resolve, reject], …]} */

    function draw(gd, args, self) {
      var entry = waiting.get(gd);
      if (entry) {
        waiting.delete(gd);
        observer.unobserve(gd);
      }
      var drawn = Promise.resolve(react.apply(self, args));
      (entry ? entry.settle : []).forEach(function (settle) { drawn.then(settle[0], settle[1]); });
      return drawn;
    }

    var observer = new ResizeObserver(function (entries) {
      entries.forEach(function (entry) {
        var gd = entry.target;
        var pending = waiting.get(gd);
        if (pending && (!gd.isConnected || hasBox(gd))) {
          draw(gd, pending.args, plotly);
        }
      });
    });

    plotly.react = function (graph) {
      var gd = typeof graph === "string" ? document.getElementById(graph) : graph;
      var args = Array.prototype.slice.call(arguments);
      if (!gd || !gd.getClientRects || gd._fullLayout || !gd.isConnected || hasBox(gd)) {
        return gd && gd.getClientRects ? draw(gd, args, this) : react.apply(this, args);
      }
      var entry = waiting.get(gd);
      if (!entry) {
        entry = { settle: [] };
        waiting.set(gd, entry);
        observer.observe(gd);
      }
      entry.args = args;
      return new Promise(function (resolve, reject) { entry.settle.push([resolve, reject]); });
    };
    plotly.react.stampHiddenDeferred = true;
  }

  function wire(plotly) {
    skipSameSizeResize(plotly);
    deferHiddenFirstDrawings(plotly);
  }

  if (window.Plotly) {
    wire(window.Plotly);
    return;
  }
  var configElement = document.getElementById("_dash-config");
  var config;
  try {
    config = JSON.parse(configElement ? configElement.textContent : "{}");
  } catch (error) {
    return;
  }
  /* the URL dash-renderer gives dcc.Graph (window._dashPlotlyJSURL) */
  var url = config.serve_locally
    ? (config.requests_pathname_prefix || "/") + "_dash-component-suites/plotly/package_data/plotly.min.js"
    : config.plotlyjs_url;
  if (!url) {
    return;
  }
  var script = document.createElement("script");
  var loaded = new Promise(function (resolve, reject) {
    script.onload = function () {
      wire(window.Plotly);
      resolve(window.Plotly);
    };
    script.onerror = function (error) {
      if (window.Plotly === pending) {
        delete window.Plotly; /* dcc.Graph then tries its own copy */
      }
      reject(error);
    };
  });
  var pending = {
    stampLoading: true,
    then: function (onLoaded, onFailed) { return loaded.then(onLoaded, onFailed); },
  };
  window.Plotly = pending;
  script.src = url;
  script.async = true;
  document.head.appendChild(script);
})();
