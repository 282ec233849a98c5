// The jobs page while a run is queued or going (the server marks it data-busy): the page
// refreshes its content every two seconds until the run has ended, so ops who pressed
// "Run now" see it start and finish. Gives up after three minutes (no worker answering).
const POLL_MS = 2000;
const GIVE_UP_MS = 3 * 60 * 1000;
const started = Date.now();

function busy() {
  return document.getElementById("content-main")?.dataset.busy === "1";
}

async function refresh() {
  const response = await fetch(window.location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  const content = fresh.getElementById("content-main");
  const current = document.getElementById("content-main");
  if (!content || !current) return;
  current.replaceWith(document.adoptNode(content));
}

async function watch() {
  while (busy() && Date.now() - started < GIVE_UP_MS) {
    await new Promise((resolve) => window.setTimeout(resolve, POLL_MS));
    try {
      await refresh();
    } catch {
      // The server did not answer this time: the next poll asks again.
    }
  }
  if (!busy()) {
    // Done: the address no longer asks to watch, so a reload does not wait again.
    const url = new URL(window.location.href);
    url.searchParams.delete("watch");
    url.searchParams.delete("after");
    window.history.replaceState(null, "", url);
    const status = document.getElementById("watching");
    if (status && status.dataset.done) status.textContent = status.dataset.done;
  }
}

if (busy()) watch();
