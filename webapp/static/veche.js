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
