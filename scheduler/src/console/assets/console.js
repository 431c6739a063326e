// Ferry console: the only script. Pages work without it; with it, a page whose <main> has
// data-live="N" refreshes its main part every N seconds (runs in progress, the queue), and a button
// with data-confirm asks before its form is sent.
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

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
})();
