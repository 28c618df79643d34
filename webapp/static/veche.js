// Progressive enhancement: everything works without this file.
// Support / withdraw without a page reload: the same form is sent with fetch; the server answers
// JSON with the re-rendered support box (in the user's language), which replaces the old one.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("[data-vote-form]") || !window.fetch) return;
  event.preventDefault();
  const button = form.querySelector("button");
  if (button.disabled) return; // a double click sends one request
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const data = await response.json();
    if (!response.ok || !data.html) { form.submit(); return; }
    const box = form.closest("[data-support-box]");
    const template = document.createElement("template");
    template.innerHTML = data.html.trim();
    const fresh = template.content.firstElementChild;
    box.replaceWith(fresh);
    const next = fresh.querySelector("[data-vote-form] button");
    if (next) next.focus();
  } catch (e) {
    form.submit();
  }
});

// Similar ideas while a citizen types a new idea (or edits one). The form works without this:
// the server then shows a "check for similar ideas" step before publishing. Here the title and
// description are sent, debounced, to GET /ideas/similar, which answers the list as HTML (escaped
// and translated on the server); a newer request cancels the one in flight. The ids shown are
// sent with the form (similar_seen), so a citizen who saw them is not asked again.
(() => {
  const form = document.querySelector("[data-similar-form]");
  const region = document.querySelector("[data-similar-region]");
  if (!form || !region || !window.fetch || !window.AbortController) return;
  const title = form.elements.namedItem("title"); // the title field sits above the similar panel, outside the <form> element
  const body = form.querySelector("[name=body]");
  const project = form.querySelector("[data-similar-project]");
  if (!title || !body) return;
  const minLength = parseInt(form.dataset.similarMin || "12", 10);
  const DELAY = 400, BODY_MAX = 1500;
  const seen = new Set();
  const seenField = document.createElement("input");
  seenField.type = "hidden";
  seenField.name = "similar_seen";
  form.appendChild(seenField);
  const remember = () => {
    region.querySelectorAll("[data-similar-id]").forEach((el) => seen.add(el.dataset.similarId));
    seenField.value = Array.from(seen).join(",");
  };
  remember(); // a list the server already rendered (the check step) counts as seen
  let timer = 0, controller = null, lastKey = null;

  const lookup = async () => {
    const t = title.value.trim(), d = body.value.trim().slice(0, BODY_MAX);
    const p = project ? project.value : "";
    const key = p + "\n" + t + "\n" + d;
    if ((t + d).length < minLength) { // too little to compare: drop any answer still on its way
      if (controller) controller.abort();
      lastKey = null;
      return;
    }
    if (key === lastKey) return;
    lastKey = key;
    if (controller) controller.abort();
    controller = new AbortController();
    const params = new URLSearchParams({ title: t, description: d });
    if (form.dataset.exclude) params.set("exclude", form.dataset.exclude);
    if (p) params.set("project", p);
    region.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(`${form.dataset.similarUrl}?${params}`, {
        signal: controller.signal,
        headers: { Accept: "text/html" },
        credentials: "same-origin",
      });
      if (!response.ok) { lastKey = null; return; } // e.g. 429: keep the list, try again later
      const html = await response.text();
      region.innerHTML = html;
      remember();
    } catch (e) {
      if (e.name !== "AbortError") lastKey = null;
    } finally {
      region.removeAttribute("aria-busy");
    }
  };
  const schedule = () => { clearTimeout(timer); timer = setTimeout(lookup, DELAY); };
  title.addEventListener("input", schedule);
  body.addEventListener("input", schedule);
  if (project) project.addEventListener("change", schedule);

  // "Support this instead" without leaving the draft: the same form, sent with fetch.
  region.addEventListener("submit", async (event) => {
    const support = event.target;
    if (!support.matches("[data-similar-support]")) return;
    event.preventDefault();
    const button = support.querySelector("button");
    if (button.disabled) return;
    button.disabled = true;
    try {
      const response = await fetch(support.action, {
        method: "POST",
        body: new FormData(support),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const data = await response.json();
      if (!response.ok) { support.submit(); return; }
      const item = support.closest("[data-similar-id]");
      const count = item && item.querySelector("[data-support-count]");
      if (count) count.textContent = new Intl.NumberFormat(document.documentElement.lang).format(data.support_count);
      const done = document.createElement("p");
      done.className = "my-vote";
      done.setAttribute("role", "status");
      done.textContent = support.dataset.done;
      support.replaceWith(done);
    } catch (e) {
      support.submit();
    }
  });
})();

// The header menus (base.html): <details> that open and close without this file — «Меню» on a
// phone, and on a desktop the staff pages and account dropdowns. Here each summary gains
// aria-expanded; opening one closes the others; Escape closes the open one (focus back on its
// summary), and so does a click outside it. On a desktop «Меню» is hidden and its links shown.
(() => {
  const menus = Array.from(document.querySelectorAll("[data-nav-menu], [data-nav-sub]"));
  const summaryOf = (menu) => menu.querySelector(":scope > summary");
  const sync = (menu) => {
    const summary = summaryOf(menu);
    if (summary) summary.setAttribute("aria-expanded", menu.open ? "true" : "false");
  };
  menus.forEach((menu) => {
    sync(menu);
    menu.addEventListener("toggle", () => {
      sync(menu);
      if (menu.open && menu.matches("[data-nav-sub]")) {
        menus.forEach((other) => {
          if (other !== menu && other.matches("[data-nav-sub]")) other.open = false;
        });
      }
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    // the innermost open menu first: a dropdown, then «Меню»
    const open = menus.filter((menu) => menu.open && summaryOf(menu).offsetParent !== null);
    const last = open[open.length - 1];
    if (!last) return;
    last.open = false;
    sync(last); // the toggle event comes a moment later; say it at once
    summaryOf(last).focus();
  });
  document.addEventListener("click", (event) => {
    menus.forEach((menu) => {
      if (menu.open && !menu.contains(event.target)) {
        menu.open = false;
        sync(menu);
      }
    });
  });
})();
