// System Status (4.0): refresh without reloading. Every few seconds the page fetches its status
// section (rendered by the server, so the page and the refresh cannot differ) and swaps it in.
// When a refresh fails, the last status stays on the page with a clear message saying so.
"use strict";

(function () {
  var live = document.getElementById("status-live");
  var state = document.getElementById("status-refresh");
  if (!live || !state || !window.fetch) { return; }
  var seconds = Math.max(parseInt(live.getAttribute("data-refresh"), 10) || 5, 1);
  var lastGood = null;

  function show(text, failed) {
    state.textContent = text;
    state.classList.toggle("failed", failed);
  }

  function refresh() {
    fetch(live.getAttribute("data-url"), {credentials: "same-origin", cache: "no-store",
                                          headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("the server answered " + response.status); }
        return response.json();
      })
      .then(function (data) {
        live.innerHTML = data.html;
        lastGood = data.status.readAt;
        show("Read at " + data.status.readAt + "; refreshes every " + seconds + " s.", false);
      })
      .catch(function (error) {
        show("Refresh failed (" + error.message + "): showing the status read at " +
             (lastGood || "page load") + ".", true);
      })
      .finally(function () { window.setTimeout(refresh, seconds * 1000); });
  }
  window.setTimeout(refresh, seconds * 1000);
})();
