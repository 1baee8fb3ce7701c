/* The highlighted band in the page URL, set in the browser: a band click never asks the server
   (dashboard/features/url_state.py writes the rest of the view's link). */
(function () {
  "use strict";
  var noUpdate = function () { return window.dash_clientside.no_update; };
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    stampUrlState: {
      /* The query string to restore: the page's own link once, then any the page did not write (back, forward). */
      linkToRead: function (search, written, read) {
        if (search === null || search === undefined) {
          return noUpdate();
        }
        return read && search === (written || "") ? noUpdate() : search;
      },

      /* [search, written]: the URL with ?highlight=<band> (none for "All"); unchanged until the page's own link is read. */
      highlightInUrl: function (band, search, read) {
        if (!read) {
          return [noUpdate(), noUpdate()];
        }
        var params = new URLSearchParams(search || "");
        var wanted = !band || band === "All" ? null : String(band);
        if (params.get("highlight") === wanted) {
          return [noUpdate(), noUpdate()];  /* already so (and a rewrite would cut the forward history) */
        }
        if (wanted === null) {
          params.delete("highlight");
        } else {
          params.set("highlight", wanted);
        }
        var text = params.toString();
        text = text ? "?" + text : "";
        return text === (search || "") ? [noUpdate(), noUpdate()] : [text, text];
      },
    },
  });
})();
