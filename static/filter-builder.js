// The request list's filter builder: each condition row offers only the operators its field
// takes. The server checks them all the same; without this script every operator is listed
// and a wrong one gets a page saying which.
(function () {
  "use strict";
  var table = document.getElementById("filter-conditions");
  if (!table) {
    return;
  }
  function limit(row) {
    var field = row.querySelector("select[name=cf]");
    var op = row.querySelector("select[name=co]");
    var chosen = field.options[field.selectedIndex];
    var allowed = chosen && chosen.dataset.ops ? chosen.dataset.ops.split(",") : null;
    var first = null;
    Array.prototype.forEach.call(op.options, function (option) {
      var ok = !allowed || allowed.indexOf(option.value) !== -1;
      option.hidden = !ok;
      option.disabled = !ok;
      if (ok && first === null) {
        first = option;
      }
    });
    // a disabled option is never submitted: move off it, or the rows would not line up
    if (op.options[op.selectedIndex] && op.options[op.selectedIndex].disabled && first) {
      first.selected = true;
    }
  }
  table.querySelectorAll("tbody tr").forEach(function (row) {
    limit(row);
    row.querySelector("select[name=cf]").addEventListener("change", function () {
      limit(row);
    });
  });
})();
