// A message counts as read once it has been on screen in a tab the reader looks at (visible
// and focused): IntersectionObserver says what is on screen, the Page Visibility API and
// the focus say whether anyone looks. What was seen is marked read through the API's
// mark-read (messaging.services.messages_mark_read) in batches; a batch that fails is sent
// again. Rows to watch carry data-unread; rows added later (chat.js) are watched too.
import { attended } from "./attention.js";

const url = document.body.dataset.readUrl;
const onScreen = new Set(); // unread rows now at least half visible
const pending = new Set(); // ids seen, not yet confirmed read by the server
let timer = null;
let sending = false;

function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (field) return field.value;
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? cookie.slice("csrftoken=".length) : "";
}

function seen() {
  if (!attended()) return;
  for (const row of onScreen) {
    pending.add(Number(row.dataset.messageId));
    row.removeAttribute("data-unread");
    row.classList.add("seen");
    watcher.unobserve(row);
  }
  onScreen.clear();
  if (pending.size && !timer) timer = window.setTimeout(flush, 300);
}

function flush() {
  timer = null;
  if (sending || !pending.size) return;
  const ids = [...pending];
  sending = true;
  fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify({ ids }),
  })
    .then((response) => {
      if (!response.ok) throw new Error(String(response.status));
      for (const id of ids) pending.delete(id);
      document.dispatchEvent(new CustomEvent("messages:read", { detail: { ids } }));
    })
    .catch(() => {}) // kept in `pending`: the next look or tick sends them again
    .finally(() => {
      sending = false;
      if (pending.size && !timer) timer = window.setTimeout(flush, 2000);
    });
}

// What the pinned composer covers is not on screen.
const dock = document.querySelector(".dock");
const covered = dock ? Math.ceil(dock.getBoundingClientRect().height) : 0;

const watcher = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      // Half of it on screen, or all the screen shows of a message taller than that.
      const room = entry.rootBounds ? entry.rootBounds.height : window.innerHeight - covered;
      const visible = entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= room / 2;
      if (entry.isIntersecting && visible) onScreen.add(entry.target);
      else onScreen.delete(entry.target);
    }
    seen();
  },
  { threshold: [0, 0.5, 1], rootMargin: `0px 0px -${covered}px 0px` },
);

function watch(root) {
  if (root.matches && root.matches("[data-unread]")) watcher.observe(root);
  if (root.querySelectorAll) root.querySelectorAll("[data-unread]").forEach((row) => watcher.observe(row));
}

if (url && window.IntersectionObserver) {
  watch(document);
  new MutationObserver((records) => {
    for (const record of records) record.addedNodes.forEach(watch);
  }).observe(document.getElementById("main"), { childList: true, subtree: true });
  // Coming back to the tab reads what is on screen. Focus can change without an event (a
  // window manager, an emulated browser): a slow tick checks too.
  document.addEventListener("visibilitychange", seen);
  window.addEventListener("focus", seen);
  window.setInterval(seen, 1000);
}
