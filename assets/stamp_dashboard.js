/*
 * Browser-side callbacks of the STAMP dashboard (namespace "stampDashboard").
 * Band highlighting itself lives in stamp_bands.js (namespace "stamp").
 * None of these functions talks to the server.
 */
(function () {
  "use strict";

  var noUpdate = function () {
    return window.dash_clientside.no_update;
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    stampDashboard: {
      /* The band whose button was clicked ("All" for the All button). */
      selectBand: function () {
        var ctx = window.dash_clientside.callback_context;
        var triggered = ctx.triggered_id;
        if (!triggered) {
          return noUpdate();
        }
        if (typeof triggered === "object" && triggered.band !== undefined) {
          return triggered.band;
        }
        return "All";
      },

      /* Mark the selected band's button active. */
      markSelected: function (selected, buttonIds) {
        var ids = buttonIds || [];
        return [
          !selected || selected === "All",
          ids.map(function (id) {
            return id.band === selected;
          }),
        ];
      },

      /*
       * Highlight a band with stamp.highlight (stamp_bands.js), except when "All" is asked
       * of a figure with nothing dimmed: rebuilding an untouched 3D surface costs seconds.
       */
      highlight: function (bandName, figure) {
        if (!figure || !Array.isArray(figure.data)) {
          return noUpdate();
        }
        var all = !bandName || bandName === "All";
        var dimmed = figure.data.some(function (trace) {
          return trace && trace.opacity !== undefined && trace.opacity < 1;
        });
        if (all && !dimmed) {
          return noUpdate();
        }
        return window.dash_clientside.stamp.highlight(bandName, figure);
      },

      /* The tab named by ?view=… in the page URL (surface, heatmap, lightcurves, spectrum). */
      tabFromUrl: function (search) {
        var match = /[?&]view=([a-z]+)/.exec(search || "");
        var tabs = { surface: 1, heatmap: 1, lightcurves: 1, spectrum: 1 };
        return match && tabs[match[1]] ? "tab-" + match[1] : noUpdate();
      },

      togglePlay: function (nClicks, disabled) {
        var playing = disabled; /* the interval was off: start it */
        return [!playing, playing ? "❚❚ Pause" : "▶ Play"];
      },

      nextFrame: function (nIntervals, value, max) {
        if (!max) {
          return noUpdate();
        }
        return ((value || 0) + 1) % (max + 1);
      },
    },
  });
})();
