// The budget ballot (campaigns/ballot.html): keeps the budget bar and the choice counter current
// while boxes are ticked. Progressive enhancement only: without it the server recomputes the
// bar on "Check" and enforces the budget and the limit on "Save" either way.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "ru";
  var fmt = new Intl.NumberFormat(lang);

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) {
      return key in values ? values[key] : "";
    });
  }

  function update(form) {
    var boxes = form.querySelectorAll('input[type="checkbox"][name="idea"]');
    var total = 0;
    var count = 0;
    boxes.forEach(function (box) {
      if (box.checked) {
        count += 1;
        total += parseInt(box.getAttribute("data-cost") || "0", 10);
      }
    });
    var bar = form.querySelector("[data-budget-bar]");
    if (bar) {
      var budget = parseInt(form.getAttribute("data-budget") || "0", 10);
      var over = total > budget;
      bar.classList.toggle("budget-over", over);
      var progress = bar.querySelector("[data-budget-progress]");
      if (progress) progress.value = Math.min(total, budget);
      var numbers = bar.querySelector("[data-budget-numbers]");
      if (numbers) {
        numbers.textContent = fill(bar.getAttribute("data-spent-text"), {
          total: fmt.format(total), budget: fmt.format(budget)
        });
      }
      var left = bar.querySelector("[data-budget-left]");
      if (left) {
        left.textContent = over
          ? fill(bar.getAttribute("data-over-text"), { amount: fmt.format(total - budget) })
          : fill(bar.getAttribute("data-left-text"), { amount: fmt.format(budget - total) });
      }
    }
    var counter = form.querySelector("[data-ballot-count]");
    var limit = parseInt(form.getAttribute("data-limit") || "0", 10);
    if (counter && limit) {
      counter.classList.toggle("budget-over", count > limit);
      counter.textContent = fill(counter.getAttribute("data-count-text"), {
        count: fmt.format(count), limit: fmt.format(limit)
      });
    }
  }

  function init() {
    document.querySelectorAll("form[data-ballot]").forEach(function (form) {
      form.addEventListener("change", function (event) {
        if (event.target && event.target.name === "idea") update(form);
      });
      update(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
