// Live updates of the open page from the server's event stream (GET /events/, Server-Sent
// Events): the header's badges, the inbox, an open conversation and the notifications list
// change without a reload. Without a stream (an old proxy, the stream server down) the page
// asks for its badges now and then, and tries the stream again, less and less often.
(function () {
  "use strict";
  var body = document.body;
  var eventsUrl = body.dataset.eventsUrl;
  if (!eventsUrl || !window.EventSource) return;
  var badgeUrl = body.dataset.badgeUrl;
  var since = body.dataset.eventsSince;
  var messages = document.getElementById("badge-messages");
  var notifications = document.getElementById("badge-notifications");
  var announcer = document.getElementById("live-announcer");
  var lastId = null;
  var failures = 0;
  var broken = false;
  var source = null;

  // The page's words come from its HTML, in its language: "{n}" and "{name}" are filled in.
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) { return values[key]; });
  }

  function show(badge, count) {
    if (!badge) return;
    badge.textContent = count;
    badge.hidden = count === 0;
    var label = count === 1 ? badge.dataset.one : badge.dataset.other;
    badge.setAttribute("aria-label", fill(label, { n: count }));
  }

  function counts(unread) {
    if (!unread) return;
    show(messages, unread.messages);
    show(notifications, unread.notifications);
  }

  // Reload a part of the page from its URL (data-refresh-url), one request at a time,
  // keeping any reply being written in it.
  function refresh(part) {
    if (!part) return;
    if (part.dataset.loading) { part.dataset.again = "1"; return; }
    part.dataset.loading = "1";
    fetch(part.dataset.refreshUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) replace(part, html); })
      .catch(function () { /* the next event or resync tries again */ })
      .finally(function () {
        delete part.dataset.loading;
        if (part.dataset.again) { delete part.dataset.again; refresh(part); }
      });
  }

  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  // Where the focus is inside `part`, as the nearest element with an id and the focused
  // element's rank among that element's focusable ones (-1: the element itself).
  function focusPlace(part) {
    var active = document.activeElement;
    if (!active || !part.contains(active)) return null;
    var anchor = active.closest("[id]");
    if (!anchor || !part.contains(anchor)) return null;
    return { id: anchor.id,
             rank: anchor === active ? -1
                 : Array.prototype.indexOf.call(anchor.querySelectorAll(FOCUSABLE), active) };
  }

  function restoreFocus(place) {
    var anchor = place && document.getElementById(place.id);
    if (!anchor) return;
    var target = place.rank < 0 ? anchor : anchor.querySelectorAll(FOCUSABLE)[place.rank];
    if (target) target.focus();
  }

  // Swap in the new html, keeping replies being written (text, open form) and the keyboard
  // focus: someone tabbing to "Send reply" must not land on the page's top when it refreshes.
  function replace(part, html) {
    var drafts = [];
    part.querySelectorAll("textarea").forEach(function (area) {
      var open = area.closest("details") && area.closest("details").open;
      if (area.value || open) drafts.push({ id: area.id, value: area.value, open: open });
    });
    var place = focusPlace(part);
    part.innerHTML = html;
    drafts.forEach(function (draft) {
      var area = document.getElementById(draft.id);
      if (!area) return;
      area.value = draft.value;
      if (draft.open && area.closest("details")) area.closest("details").open = true;
    });
    restoreFocus(place);
  }

  function shown(messageId) {
    return document.querySelector('[data-message-id="' + messageId + '"]') !== null;
  }

  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  var list = document.getElementById("live-list");
  var thread = document.getElementById("live-thread");
  var notificationList = document.getElementById("notification-list");

  function onMessage(message, box) {
    // The conversations list changes with every message; a box, with its own.
    var mine = list && (list.dataset.box === box || list.dataset.box === "conversations");
    if (list && (shown(message.id) || (mine && box && list.dataset.first))) refresh(list);
    // A conversation's page (data-with: the other person) shows their new threads too.
    var between = thread && thread.dataset.with &&
      [message.sender, message.receiver].indexOf(Number(thread.dataset.with)) >= 0;
    if (thread && (between || shown(message.id) || shown(message.parent_message)))
      refresh(thread);
  }

  var handlers = {
    "message.received": function (data) {
      counts(data.unread);
      onMessage(data.message, "inbox");
      announce(fill(body.dataset.newMessage, { name: data.message.sender_username }));
    },
    "message.sent": function (data) { onMessage(data.message, "sent"); },
    "message.edited": function (data) { onMessage(data.message, null); },
    "notification.created": function (data) { counts(data.unread); refresh(notificationList); },
    "unread.changed": function (data) { counts(data.unread); refresh(notificationList); },
    "messages.deleted": function (data) {
      counts(data.unread);
      if (data.ids.some(shown)) { refresh(list); refresh(thread); }
      refresh(notificationList);
    },
    "stream.reset": function () { resync(); }
  };

  // After a gap (the stream was down or events were lost): everything from the server.
  function resync() {
    fetch(badgeUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) { if (c) counts(c); })
      .catch(function () {});
    refresh(list); refresh(thread); refresh(notificationList);
  }

  function open() {
    var url = eventsUrl + (lastId ? "?last_event_id=" + encodeURIComponent(lastId)
                                  : "?since=" + encodeURIComponent(since));
    source = new EventSource(url);
    source.onopen = function () {
      // Back after a break: what happened meanwhile may not all be in the log (Redis down).
      if (broken) resync();
      broken = false;
      failures = 0;
    };
    source.onerror = function () {
      broken = true;
      // CONNECTING: the browser comes back by itself (with Last-Event-ID). CLOSED: refused
      // (503, 401, 429) or no stream server: poll, and try again later.
      if (source.readyState !== EventSource.CLOSED) return;
      source = null;
      failures += 1;
      resync();
      window.setTimeout(open, Math.min(30000, 1000 * Math.pow(2, failures)));
    };
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (event) {
        if (event.lastEventId) lastId = event.lastEventId;
        handlers[name](JSON.parse(event.data));
      });
    });
  }
  open();
})();
