/*
 * plotly.js (4.8 MB, ~0.6 s of script evaluation in a 2-core headless Chromium) fetched and run
 * while the page waits for its layout and first view from the server, instead of after the first
 * graph is rendered (dcc.Graph loads it then, on the critical path of the first heatmap).
 *
 * dcc.Graph waits on `Promise.resolve(window.Plotly || <load window._dashPlotlyJSURL>)`: until the
 * script has run, window.Plotly is a thenable settled by the script's load, so a graph rendered
 * before that waits for this copy instead of loading a second one.  plotly.min.js ends with
 * `window.Plotly = Plotly`, which replaces the thenable.
 */
(function () {
  "use strict";
  if (window.Plotly) {
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
    script.onload = function () { resolve(window.Plotly); };
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
