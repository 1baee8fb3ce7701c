/* Downloads: fetch the built file as an attachment from the signed link the download job
   returned (dashboard/features/downloads.py). The link's signed key is the only proof: a
   portal's iframe on another site sends no site credentials. */
(function () {
  "use strict";
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    stampDownloads: {
      fetchLink: function (link) {
        if (!link || !link.url) {
          return window.dash_clientside.no_update;
        }
        var anchor = document.createElement("a");
        anchor.href = link.url;
        anchor.download = link.filename;
        anchor.style.display = "none";
        document.body.appendChild(anchor);
        anchor.click();
        anchor.remove();
        return link.token;
      }
    }
  });
})();
