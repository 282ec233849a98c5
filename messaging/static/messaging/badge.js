// Keeps the header badges (and an open notifications list) current without a reload.
(function () {
  "use strict";
  var messages = document.getElementById("badge-messages");
  if (!messages) return;
  var notifications = document.getElementById("badge-notifications");
  var list = document.getElementById("notification-list");
  var url = messages.dataset.badgeUrl;
  var last = null;

  function show(badge, count, noun) {
    badge.textContent = count;
    badge.hidden = count === 0;
    badge.setAttribute("aria-label", count + " unread " + noun);
  }

  function refreshList() {
    fetch(list.dataset.refreshUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) list.innerHTML = html; });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) return;
        show(messages, counts.messages, "messages");
        show(notifications, counts.notifications, "notifications");
        var key = counts.messages + ":" + counts.notifications;
        if (list && last !== null && key !== last) refreshList();
        last = key;
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ })
      .finally(function () { setTimeout(poll, document.hidden ? 15000 : 3000); });
  }
  setTimeout(poll, 3000);
})();
