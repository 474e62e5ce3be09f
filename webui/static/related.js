// 相关报道: once the results page is shown, ask for the related coverage under it (posts with
// most of the query's words, not all) and put it in the page's #related section. Without this
// script the page shows its results only.
(function () {
  "use strict";
  var section = document.querySelector("section[data-related]");
  if (!section || !window.fetch) return;
  fetch(section.getAttribute("data-related"), { headers: { Accept: "text/html" } })
    .then(function (response) { return response.ok ? response.text() : ""; })
    .then(function (html) {
      if (!html.trim()) return;
      section.innerHTML = html; // the server's own markup, escaped there (templates/related.html)
      section.setAttribute("aria-labelledby", "related-heading");
      section.hidden = false;
    })
    .catch(function () { /* no related coverage: the page is complete without it */ });
})();
