// Ferry console: the only script. Pages work without it; with it, a page whose <main> has
// data-live="N" refreshes its main part every N seconds (runs in progress, the queue), the editor's
// filter is checked as it is typed, and a button with data-confirm asks before its form is sent.
"use strict";

(function () {
  const main = document.querySelector("main[data-live]");
  if (main) {
    const every = Math.max(1, Number(main.dataset.live)) * 1000;
    let busy = false;
    const refresh = async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const response = await fetch(location.href, { credentials: "same-origin" });
        // The session ended (the answer was the sign-in page): go there rather than show it inside.
        if (response.redirected) {
          location.reload();
          return;
        }
        if (!response.ok) return;
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.querySelector("main");
        if (!fresh) return;
        // Keep what the operator is doing: a form being filled or text selected is not replaced.
        if (main.contains(document.activeElement) && document.activeElement.matches("input, select, textarea")) return;
        main.innerHTML = fresh.innerHTML;
        if (fresh.dataset.live === undefined) {
          main.removeAttribute("data-live");
          clearInterval(timer);
        }
      } catch (_) {
        // A missed refresh is retried at the next tick.
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(refresh, every);
  }

  // The editor's filter is checked as it is typed, by the same checks a save makes.
  const filter = document.querySelector("form.editor #filter");
  const note = document.getElementById("filter-note");
  if (filter && note) {
    const hint = note.textContent;
    let pending;
    filter.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(async () => {
        const form = filter.form;
        const query = new URLSearchParams({
          connection: form.elements.connection.value,
          entity: form.elements.entity.value,
          filter: filter.value,
        });
        try {
          const response = await fetch("/integrations/filter-check?" + query, { credentials: "same-origin" });
          if (!response.ok) return;
          const text = await response.text();
          const wrong = text !== "ok";
          note.textContent = wrong ? text : hint;
          note.className = wrong ? "error" : "hint";
          if (wrong) filter.setAttribute("aria-invalid", "true");
          else filter.removeAttribute("aria-invalid");
        } catch (_) {
          // The save checks it anyway.
        }
      }, 300);
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
})();
