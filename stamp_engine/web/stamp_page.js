// Exported STAMP page: draws each embedded figure and wires the band buttons to stamp_bands.js.
(function () {
  "use strict";
  var figures = Array.prototype.slice.call(document.querySelectorAll("script[data-stamp-figure]"));
  var divs = [];
  var config = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["sendDataToCloud"],
                toImageButtonOptions: {format: "png", scale: 2}};
  figures.forEach(function (holder) {
    var fig = JSON.parse(holder.textContent);
    var div = document.getElementById(holder.getAttribute("data-stamp-figure"));
    var layout = fig.layout || {};
    Plotly.newPlot(div, fig.data || [], layout, config).then(function () {
      if (fig.frames && fig.frames.length) { Plotly.addFrames(div, fig.frames); }
    });
    divs.push(div);
  });
  // Band ranges (µm) for views that shade them (the spectrum); maps carry their own.
  var nav = document.querySelector(".stamp-bands");
  var bands = nav ? JSON.parse(nav.getAttribute("data-bands") || "[]") : [];
  var selected = "All";
  // A view off screen is not redrawn on a click (a 3D surface costs seconds in software
  // WebGL): it follows the selection when it scrolls into view.
  var visible = divs.map(function () { return typeof IntersectionObserver === "undefined"; });
  function follow(i) {
    if (visible[i] && typeof window.stampHighlightDiv === "function") {
      window.stampHighlightDiv(divs[i], selected, bands);
    }
  }
  if (typeof IntersectionObserver !== "undefined") {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var i = divs.indexOf(entry.target);
        visible[i] = entry.isIntersecting;
        follow(i);
      });
    });
    divs.forEach(function (div) { observer.observe(div); });
  }
  function highlight(name) {
    selected = name;
    divs.forEach(function (div, i) { follow(i); });
    Array.prototype.forEach.call(document.querySelectorAll(".stamp-band"), function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-band") === name ? "true" : "false");
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".stamp-band"), function (button) {
    button.addEventListener("click", function () { highlight(button.getAttribute("data-band")); });
  });
  window.stampPage = {figures: divs, highlight: highlight};
})();
