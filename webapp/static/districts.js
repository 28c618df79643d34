// The districts admin page (taxonomy/districts.html): filter the okrugs and districts as you
// type. Without JavaScript the same box is a GET form (?q=…) filtered on the server. Rows only
// get hidden: every input stays in the form, so one Save still sends the whole page.
(function () {
  "use strict";
  var box = document.querySelector("[data-district-filter]");
  if (!box) return;
  var sections = Array.prototype.slice.call(document.querySelectorAll("[data-okrug]"));
  var count = document.querySelector("[data-district-count]");
  var initial = count ? count.textContent : "";
  // "Okrugs found: {n}", translated by the server
  var found = count ? count.getAttribute("data-found") || "" : "";
  // the page lists every row only when the server did not filter it (?q=…)
  var everything = !box.defaultValue.trim();

  function apply() {
    var needle = box.value.trim().replace(/\s+/g, " ").toLowerCase();
    var shown = 0;
    sections.forEach(function (section) {
      var rows = Array.prototype.slice.call(section.querySelectorAll("tr[data-names]"));
      var okrug = section.querySelector("tr.okrug-row");
      var whole = !needle || (okrug && okrug.getAttribute("data-names").indexOf(needle) !== -1);
      var any = false;
      rows.forEach(function (row) {
        var hit = whole || row.getAttribute("data-names").indexOf(needle) !== -1;
        row.hidden = !hit && row !== okrug;
        if (hit) any = true;
      });
      section.hidden = !any;
      if (any) shown += 1;
      if (needle && any) section.open = true;
    });
    if (count) count.textContent = needle && found ? found.replace("{n}", String(shown)) : initial;
  }

  box.addEventListener("input", apply);
  var form = box.form;
  if (form) {
    form.addEventListener("submit", function (event) {
      // already filtered in place: stay on the page (and keep unsaved edits)
      if (everything && sections.length) { event.preventDefault(); apply(); }
    });
  }
})();
