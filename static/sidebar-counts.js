// The request list's sidebar: fill in the saved filters' live counts. The list is shown first
// and the counts follow as soon as they are counted (GET /filters/counts), so the rows never
// wait for them. Without JavaScript, "All saved filters, with counts" shows them.
(function () {
  "use strict";
  var list = document.querySelector("ul.saved-filters[data-counts-url]");
  if (!list || !list.querySelector(".count[data-pending]")) {
    return;
  }
  function settle(span, text, title) {
    span.textContent = text;
    span.title = title;
    span.removeAttribute("data-pending");
  }
  fetch(list.getAttribute("data-counts-url"), {
    credentials: "same-origin", headers: {"Accept": "application/json"}
  }).then(function (response) {
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
    }
    return response.json();
  }).then(function (data) {
    list.querySelectorAll("li[data-filter-id]").forEach(function (item) {
      var span = item.querySelector(".count[data-pending]");
      if (!span) {
        return;
      }
      var value = data.counts[item.getAttribute("data-filter-id")];
      if (value === null) {
        settle(span, "invalid", "this filter no longer applies");
      } else if (value === undefined) {
        settle(span, "?", "the count could not be loaded");
      } else {
        settle(span, String(value), "matching requests now");
      }
    });
  }).catch(function () {
    list.querySelectorAll(".count[data-pending]").forEach(function (span) {
      settle(span, "?", "the count could not be loaded; reload the page to try again");
    });
  });
})();
