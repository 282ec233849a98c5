// Live updates of the open page from the server's event stream (GET /events/, Server-Sent
// Events): the header's badge, the tab's title and icon, the inbox and the notifications
// list change without a reload, and each event is handed to the page's own script (chat.js)
// as a "live:event" on the document. Without a stream (an old proxy, the stream server
// down) the page asks for its counts now and then, and tries the stream again, less and
// less often; a stream that breaks says "Reconnecting…" until it is back.
import { attentionFor } from "./attention.js";

const body = document.body;
const eventsUrl = body.dataset.eventsUrl;
const badgeUrl = body.dataset.badgeUrl;
const since = body.dataset.eventsSince;
const badge = document.getElementById("badge-messages");
const announcer = document.getElementById("live-announcer");
const banner = document.getElementById("connection");
const favicon = document.getElementById("favicon");
const plainIcon = favicon && favicon.getAttribute("href");
const baseTitle = document.title;
let lastId = null;
let failures = 0;
let opened = false; // the stream worked once on this page: a break is news
let broken = false;
let source = null;
let retry = null;
let bannerTimer = null;

// The page's words come from its HTML, in its language: "{n}" and "{name}" are filled in.
export function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (all, key) => values[key]);
}

// One number for unread messages, everywhere: the Inbox badge, "(3)" before the tab's
// title, and a dot on its icon.
function counts(unread) {
  if (!unread) return;
  const n = unread.messages;
  if (badge) {
    badge.textContent = n;
    badge.hidden = n === 0;
    badge.setAttribute("aria-label", fill(n === 1 ? badge.dataset.one : badge.dataset.other, { n }));
  }
  document.title = n > 0 ? `(${n}) ${baseTitle}` : baseTitle;
  if (favicon) favicon.setAttribute("href", n > 0 ? favicon.dataset.unreadHref : plainIcon);
}

// Reload a part of the page from its URL (data-refresh-url), one request at a time.
function refresh(part) {
  if (!part) return;
  if (part.dataset.loading) {
    part.dataset.again = "1";
    return;
  }
  part.dataset.loading = "1";
  fetch(part.dataset.refreshUrl, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.text() : null))
    .then((html) => {
      if (html !== null) replace(part, html);
    })
    .catch(() => {}) // the next event or resync tries again
    .finally(() => {
      delete part.dataset.loading;
      if (part.dataset.again) {
        delete part.dataset.again;
        refresh(part);
      }
    });
}

const FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

// Swap in the new html, keeping replies being written and the keyboard focus: someone
// tabbing to "Send reply" must not land on the page's top when it refreshes.
function replace(part, html) {
  const drafts = [];
  part.querySelectorAll("textarea").forEach((area) => {
    const open = area.closest("details") && area.closest("details").open;
    if (area.value || open) drafts.push({ id: area.id, value: area.value, open });
  });
  const active = document.activeElement;
  const anchor = active && part.contains(active) ? active.closest("[id]") : null;
  const place = anchor && part.contains(anchor) && {
    id: anchor.id,
    rank: anchor === active ? -1 : [...anchor.querySelectorAll(FOCUSABLE)].indexOf(active),
  };
  part.innerHTML = html;
  for (const draft of drafts) {
    const area = document.getElementById(draft.id);
    if (!area) continue;
    area.value = draft.value;
    if (draft.open && area.closest("details")) area.closest("details").open = true;
  }
  const again = place && document.getElementById(place.id);
  const target = again && (place.rank < 0 ? again : again.querySelectorAll(FOCUSABLE)[place.rank]);
  if (target) target.focus();
}

const shown = (messageId) => document.querySelector(`[data-message-id="${messageId}"]`) !== null;

function announce(text) {
  if (!announcer) return;
  announcer.textContent = "";
  window.setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

const list = document.getElementById("live-list");
const thread = document.getElementById("live-thread");
const notificationList = document.getElementById("notification-list");

function onMessage(message, box) {
  // The conversations list changes with every message; a box, with its own.
  const mine = list && (list.dataset.box === box || list.dataset.box === "conversations");
  if (list && (shown(message.id) || (mine && box && list.dataset.first))) refresh(list);
  if (thread && (shown(message.id) || shown(message.parent_message))) refresh(thread);
}

const attention = attentionFor();

const handlers = {
  "message.received": (data) => {
    counts(data.unread);
    onMessage(data.message, "inbox");
    announce(fill(body.dataset.newMessage, { name: data.message.sender_username }));
    attention.arrived(data.message);
  },
  "message.sent": (data) => onMessage(data.message, "sent"),
  "message.edited": (data) => onMessage(data.message, null),
  "attachment.ready": (data) => {
    if (thread && shown(data.id)) refresh(thread);
  },
  "message.deleted": (data) => {
    if (list) refresh(list);
    if (thread && shown(data.id)) refresh(thread);
  },
  "notification.created": (data) => {
    counts(data.unread);
    refresh(notificationList);
  },
  "unread.changed": (data) => {
    counts(data.unread);
    refresh(notificationList);
  },
  "messages.deleted": (data) => {
    counts(data.unread);
    if (data.ids.some(shown)) {
      refresh(list);
      refresh(thread);
    }
    refresh(notificationList);
  },
  "stream.reset": () => resync(),
};

function tell(name, data) {
  document.dispatchEvent(new CustomEvent("live:event", { detail: { name, data } }));
}

// The counts from the server: after a gap, and after the page marked messages read.
export function recount() {
  return fetch(badgeUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((c) => c && counts(c))
    .catch(() => {});
}

// After a gap (the stream was down or events were lost): everything from the server.
function resync() {
  recount();
  refresh(list);
  refresh(thread);
  refresh(notificationList);
  tell("stream.reset", {});
}

function say(key, hideAfter) {
  if (!banner) return;
  window.clearTimeout(bannerTimer);
  banner.textContent = body.dataset[key];
  banner.dataset.state = key;
  banner.hidden = false;
  if (hideAfter) {
    bannerTimer = window.setTimeout(() => {
      banner.hidden = true;
    }, hideAfter);
  }
}

function lost() {
  broken = true;
  if (opened || !navigator.onLine) say("reconnecting");
}

function open() {
  window.clearTimeout(retry);
  if (source) source.close();
  const url =
    eventsUrl +
    (lastId ? `?last_event_id=${encodeURIComponent(lastId)}` : `?since=${encodeURIComponent(since)}`);
  source = new EventSource(url);
  source.onopen = () => {
    // Back after a break: what happened meanwhile may not all be in the log (Redis down).
    if (broken) {
      resync();
      if (opened) say("backOnline", 3000);
    }
    opened = true;
    broken = false;
    failures = 0;
  };
  source.onerror = () => {
    lost();
    // CONNECTING: the browser comes back by itself (with Last-Event-ID). CLOSED: refused
    // (503, 401, 429) or no stream server: poll, and try again later.
    if (source.readyState !== EventSource.CLOSED) return;
    source = null;
    failures += 1;
    resync();
    retry = window.setTimeout(open, Math.min(30000, 1000 * 2 ** failures));
  };
  for (const name of Object.keys(handlers)) {
    source.addEventListener(name, (event) => {
      if (event.lastEventId) lastId = event.lastEventId;
      const data = JSON.parse(event.data);
      handlers[name](data);
      tell(name, data);
    });
  }
}

// Signing out leaves nothing typed behind in this browser for the next person at it.
document.querySelector("form.logout")?.addEventListener("submit", () => {
  try {
    for (const key of Object.keys(window.localStorage)) {
      if (key.startsWith("draft:")) window.localStorage.removeItem(key);
    }
  } catch {
    // storage refused: nothing was kept either
  }
});

if (eventsUrl && window.EventSource) {
  // The network went away: say so now rather than after the browser's own retries; when it
  // comes back, reconnect at once instead of at the next backoff step.
  window.addEventListener("offline", () => {
    if (source) source.close();
    source = null;
    lost();
  });
  window.addEventListener("online", () => {
    broken = true;
    open();
  });
  document.addEventListener("messages:read", recount);
  counts({ messages: badge ? Number(badge.textContent) || 0 : 0 });
  open();
}
