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

  /* Bytes of a data URL's payload, without decoding it. */
  function dataUrlBytes(dataUrl) {
    var comma = dataUrl.indexOf(",");
    var b64 = comma >= 0 ? dataUrl.length - comma - 1 : dataUrl.length;
    var padding = dataUrl.endsWith("==") ? 2 : dataUrl.endsWith("=") ? 1 : 0;
    return Math.floor((b64 * 3) / 4) - padding;
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
      /* Refuse an upload over the server's limit before it is sent; else pass it on. */
      checkUpload: function (contents, filenames, limitBytes) {
        if (!contents) {
          return [noUpdate(), noUpdate()];
        }
        var list = Array.isArray(contents) ? contents : [contents];
        var names = Array.isArray(filenames) ? filenames : [filenames];
        var total = 0;
        for (var i = 0; i < list.length; i++) {
          total += dataUrlBytes(list[i]);
        }
        if (limitBytes && total > limitBytes) {
          var mb = function (b) {
            return (b / 1048576).toFixed(1);
          };
          return [
            noUpdate(),
            alertDiv(
              "Upload refused: " + names.join(", ") + " total " + mb(total) +
                " MB, above this server's limit of " + mb(limitBytes) + " MB.",
              "danger"
            ),
          ];
        }
        return [
          { contents: list, filename: names },
          alertDiv(
            "Uploading " + (names.length === 1 ? names[0] : names.length + " files") +
              " (" + (total / 1048576).toFixed(1) + " MB)…",
            "light"
          ),
        ];
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
