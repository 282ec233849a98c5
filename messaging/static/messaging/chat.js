// A conversation that reads and writes like a chat: oldest at the top, the view anchored at
// the bottom, older parts loaded when scrolling up; a composer where Enter sends and the
// message shows at once as "Sending…", then as sent or as "Failed — Retry" with its text
// kept; replies from the conversation; a "New messages" divider and a pill for what
// arrives while one reads further up. Rows come from the server (_chat_rows.html), so a
// message looks the same however it got here.
import * as attach from "./attach.js";
import { attended } from "./attention.js";
import * as drafts from "./drafts.js";
import { fill } from "./live.js";

const chat = document.getElementById("chat");
const log = document.getElementById("chat-log");
const form = document.getElementById("composer");
const text = document.getElementById("composer-text");
const parentField = document.getElementById("composer-parent");
const replying = document.getElementById("replying");
const replyingTo = document.getElementById("replying-to");
const newPill = document.getElementById("new-pill");
const jumpUnread = document.getElementById("jump-unread");
const jumpLatest = document.getElementById("jump-latest");
const words = chat.dataset;
const other = Number(chat.dataset.with);
const me = Number(document.body.dataset.user);
const place = `with:${other}`;
const GROUPED_MS = 5 * 60 * 1000; // as views.GROUPED_WITHIN_SECONDS
let arrivedBelow = 0;
let localKey = 0;

const rows = () => [...log.querySelectorAll("li.msg")];
const sentRows = () => [...log.querySelectorAll("li.msg[data-message-id]")];
const atBottom = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
const toBottom = () => window.scrollTo(0, document.documentElement.scrollHeight);

// Consecutive messages of one sender, close in time, show under one name and time.
function regroup() {
  let previous = null;
  for (const row of rows()) {
    const at = Date.parse(row.dataset.at);
    const grouped =
      previous !== null &&
      previous.dataset.sender === row.dataset.sender &&
      at - Date.parse(previous.dataset.at) < GROUPED_MS &&
      !(row.previousElementSibling && row.previousElementSibling.classList.contains("divider"));
    row.classList.toggle("cont", grouped);
    previous = row;
  }
}

function parse(html) {
  const holder = document.createElement("template");
  holder.innerHTML = html;
  return [...holder.content.querySelectorAll("li.msg")];
}

function get(query) {
  return fetch(`${chat.dataset.rowsUrl}?${query}`, {
    credentials: "same-origin",
    headers: { "X-Requested-With": "fetch" },
  }).then((response) => {
    if (!response.ok) throw new Error(String(response.status));
    const more = response.headers.get("X-More-Messages") === "1";
    return response.text().then((html) => ({ rows: parse(html), more }));
  });
}

// --- Older parts, loaded when the top comes into view ------------------------------------

let loadingOlder = null;

function loadOlder() {
  const link = document.getElementById("older");
  const first = sentRows()[0];
  if (!link || !first || loadingOlder) return loadingOlder || Promise.resolve(false);
  loadingOlder = get(`before=${first.dataset.messageId}`)
    .then(({ rows: older, more }) => {
      // Keep what is on screen where it is: measure the first row before and after.
      const top = first.getBoundingClientRect().top;
      log.prepend(...older);
      placeDivider();
      regroup();
      window.scrollBy(0, first.getBoundingClientRect().top - top);
      if (!more) link.parentElement.textContent = link.dataset.start || "";
      else link.href = `?before=${older[0].dataset.messageId}`;
      return more;
    })
    .finally(() => {
      loadingOlder = null;
    });
  return loadingOlder;
}

const olderLink = document.getElementById("older");
if (olderLink) {
  olderLink.addEventListener("click", (event) => {
    event.preventDefault();
    loadOlder();
  });
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadOlder();
  }).observe(olderLink);
}

// --- Arrivals -------------------------------------------------------------------------

let catchingUp = null;

// Fetch what is newer than the last row shown and add it above the unsent ones.
function catchUp() {
  if (catchingUp) {
    catchingUp.again = true;
    return;
  }
  const last = sentRows().at(-1);
  catchingUp = get(last ? `after=${last.dataset.messageId}` : "")
    .then(({ rows: newer, more }) => {
      // Where the reader is when the rows come, not when they were asked for: one who
      // scrolled up meanwhile stays where they read.
      const wasAtBottom = atBottom();
      if (more) catchingUp.again = true; // a long gap: the next part after this one
      else document.getElementById("newer-wrap")?.remove(); // opened mid-way: now whole
      const added = newer.filter((row) => !document.getElementById(row.id));
      let theirs = 0;
      for (const row of added) {
        const unsent = log.querySelector("li.msg.unsent");
        log.insertBefore(row, unsent);
        if (Number(row.dataset.sender) === me) continue;
        theirs += 1;
        // Arrived while nobody looks: "New messages" above the first of them.
        if (!attended() && !divider()) {
          log.dataset.firstUnread = row.dataset.messageId;
          placeDivider();
        }
      }
      regroup();
      if (wasAtBottom) toBottom();
      else if (theirs) showNew(theirs);
    })
    .catch(() => {})
    .finally(() => {
      const again = catchingUp.again;
      catchingUp = null;
      if (again) catchUp();
    });
}

function showNew(count) {
  arrivedBelow += count;
  newPill.textContent = fill(arrivedBelow === 1 ? words.newOne : words.newOther, { n: arrivedBelow });
  newPill.hidden = false;
}

function replaceRow(id) {
  get(`id=${id}`)
    .then(({ rows: [fresh] }) => {
      const row = document.getElementById(`m${id}`);
      if (!row || !fresh) return;
      fresh.className = row.className;
      row.replaceWith(fresh);
    })
    .catch(() => {});
}

const between = (message) =>
  (message.sender === other && message.receiver === me) || (message.sender === me && message.receiver === other);

document.addEventListener("live:event", ({ detail: { name, data } }) => {
  if ((name === "message.received" || name === "message.sent") && between(data.message)) catchUp();
  else if (name === "attachment.ready") {
    if (document.getElementById(`m${data.id}`)) replaceRow(data.id);
  } else if (name === "message.edited" || name === "message.deleted") {
    // The changed message, and the replies that quote it.
    const id = name === "message.edited" ? data.message.id : data.id;
    if (document.getElementById(`m${id}`)) replaceRow(id);
    log.querySelectorAll(`a.quote[data-parent="${id}"]`).forEach((quote) => replaceRow(quote.closest("li.msg").dataset.messageId));
  }
  else if (name === "messages.deleted") data.ids.forEach((id) => document.getElementById(`m${id}`)?.remove());
  else if (name === "stream.reset") catchUp();
});

// --- Sending ----------------------------------------------------------------------------

// Messages not sent yet (sending, or refused) are kept with the draft, so a reload or a
// crash loses none of them: they come back as "Failed — Retry".
function unsentKept() {
  return drafts.load(`${place}:unsent`, []);
}
function keepUnsent() {
  const kept = [...log.querySelectorAll("li.msg.unsent")].map((row) => ({
    key: row.dataset.key,
    content: row.dataset.content,
    parent: row.dataset.parent || "",
  }));
  drafts.save(`${place}:unsent`, kept);
}

function unsentRow(content, parent, key, file = null) {
  const row = document.createElement("li");
  row.className = "msg mine unsent";
  row.dataset.key = key;
  row.dataset.content = content;
  row.dataset.parent = parent;
  row.dataset.sender = String(me);
  row.dataset.at = new Date().toISOString();
  row.file = file; // kept in memory for Retry (a reload keeps the text only)
  const body = document.createElement("p");
  body.className = "content";
  body.textContent = content; // text, never html
  row.append(body);
  if (file) {
    const card = document.createElement("p");
    card.className = "file";
    card.textContent = file.name;
    row.append(card);
  }
  const status = document.createElement("p");
  status.className = "status";
  row.append(status);
  return row;
}

function setStatus(row, state, reason) {
  const status = row.querySelector(".status");
  status.replaceChildren();
  row.dataset.state = state;
  if (state === "sending") {
    status.textContent = words.sending;
    status.removeAttribute("role");
    return;
  }
  status.setAttribute("role", "alert");
  status.append(`${words.failed} — ${reason} `);
  const retryButton = document.createElement("button");
  retryButton.type = "button";
  retryButton.className = "link retry";
  retryButton.textContent = words.retry;
  retryButton.addEventListener("click", () => send(row));
  const discard = document.createElement("button");
  discard.type = "button";
  discard.className = "link discard";
  discard.textContent = words.discard;
  discard.addEventListener("click", () => {
    row.remove();
    keepUnsent();
    regroup();
  });
  status.append(retryButton, " ", discard);
}

function send(row) {
  setStatus(row, "sending");
  const data = new FormData();
  data.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
  data.append("content", row.dataset.content);
  data.append("parent", row.dataset.parent);
  if (row.file) data.append("attachment", row.file);
  fetch(form.action, {
    method: "POST",
    body: data,
    credentials: "same-origin",
    headers: { "X-Requested-With": "fetch" },
  })
    .then((response) => {
      if (response.status === 201) {
        return response.text().then((html) => {
          const [sent] = parse(html);
          if (sent && !document.getElementById(sent.id)) {
            // Its place among the sent ones: after the last row already there.
            const unsent = log.querySelector("li.msg.unsent");
            log.insertBefore(sent, unsent);
          }
          row.remove();
          keepUnsent();
          regroup();
          toBottom();
        });
      }
      const wait = response.headers.get("Retry-After");
      return response
        .json()
        .catch(() => ({}))
        .then((body) => {
          const reason = wait ? fill(words.retryIn, { s: wait }) : body.detail || `HTTP ${response.status}`;
          setStatus(row, "failed", reason);
        });
    })
    .catch(() => setStatus(row, "failed", words.network));
}

function submit() {
  const content = text.value;
  if (!content.trim() && !attach.hasFile()) return;
  localKey += 1;
  const row = unsentRow(content, parentField.value, `${Date.now()}-${localKey}`, attach.take());
  log.append(row);
  keepUnsent();
  text.value = "";
  drafts.save(place, "");
  stopReplying();
  regroup();
  toBottom();
  send(row);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
});

// Enter sends, Shift+Enter is a new line, Ctrl/Cmd+Enter sends too. Not while an input
// method composes a word (Japanese, Chinese): its Enter picks the word.
text.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.isComposing || event.shiftKey) return;
  event.preventDefault();
  submit();
});

drafts.keep(text, place, () => text.value.trim() !== "" || log.querySelector("li.msg.unsent") !== null);

// --- Replies from the conversation -----------------------------------------------------

function startReplying(row) {
  parentField.value = row.dataset.messageId;
  replyingTo.textContent = row.querySelector(".content").textContent.slice(0, 140);
  replying.hidden = false;
  text.focus();
}

function stopReplying() {
  parentField.value = "";
  replying.hidden = true;
}

document.getElementById("cancel-reply").addEventListener("click", () => {
  stopReplying();
  text.focus();
});

function flash(row) {
  row.classList.remove("flash");
  void row.offsetWidth; // restart the animation
  row.classList.add("flash");
}

// Delete for everyone: asked first, then the row becomes "Message deleted" (the other
// person's page learns it from the "message.deleted" event).
function deleteMessage(link) {
  if (!window.confirm(words.confirmDelete)) return;
  const data = new FormData();
  data.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
  fetch(link.href, {
    method: "POST",
    body: data,
    credentials: "same-origin",
    headers: { "X-Requested-With": "fetch" },
  })
    .then((response) => {
      if (!response.ok) throw new Error(String(response.status));
      replaceRow(link.dataset.delete);
    })
    .catch(() => window.alert(words.deleteFailed));
}

log.addEventListener("click", (event) => {
  const remove = event.target.closest("a.delete");
  if (remove) {
    event.preventDefault();
    deleteMessage(remove);
    return;
  }
  const reply = event.target.closest("a.reply-to");
  if (reply) {
    event.preventDefault();
    startReplying(reply.closest("li.msg"));
    return;
  }
  const quote = event.target.closest("a.quote");
  if (quote) {
    const target = document.getElementById(`m${quote.dataset.parent}`);
    if (!target) return; // not loaded: the link opens the thread
    event.preventDefault();
    target.scrollIntoView({ block: "center" });
    target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
    flash(target);
    return;
  }
  // A tap on a message shows its actions (there is no hover on a phone).
  const row = event.target.closest("li.msg");
  if (row && !event.target.closest("a, button, summary")) {
    log.querySelector("li.msg.active")?.classList.remove("active");
    row.classList.add("active");
  }
});

// --- Where the view stands ---------------------------------------------------------------

const divider = () => document.getElementById("unread-divider");

function placeControls() {
  const bottom = atBottom();
  if (bottom) {
    arrivedBelow = 0;
    newPill.hidden = true;
  }
  jumpLatest.hidden = bottom || !newPill.hidden;
  // "First unread" until the divider has been on screen once.
  const line = divider();
  if (line && line.getBoundingClientRect().bottom > 0 && line.getBoundingClientRect().top < window.innerHeight) {
    line.dataset.seen = "1";
  }
  // No divider but unread messages: they are in an older part, which the jump loads.
  jumpUnread.hidden = line ? line.dataset.seen === "1" : !log.dataset.firstUnread;
}

// The divider above the first unread, once its part is loaded (the page puts it there when
// it is in the first part).
function placeDivider() {
  const first = log.dataset.firstUnread && document.getElementById(`m${log.dataset.firstUnread}`);
  if (!first || divider()) return;
  const line = document.createElement("li");
  line.className = "divider";
  line.id = "unread-divider";
  const label = document.createElement("span");
  label.textContent = words.newMessages;
  line.append(label);
  first.before(line);
}

newPill.addEventListener("click", () => {
  toBottom();
  text.focus({ preventScroll: true });
});
jumpLatest.addEventListener("click", toBottom);
jumpUnread.addEventListener("click", async () => {
  // The first unread may be in an older part: load parts until it is there.
  while (!divider() && (await loadOlder().catch(() => false)));
  divider()?.scrollIntoView({ block: "start" });
  placeControls();
});
window.addEventListener("scroll", placeControls, { passive: true });

// Opened mid-way (a search result): newer parts load when the bottom comes into view.
const newerLink = document.getElementById("newer");
if (newerLink) {
  newerLink.addEventListener("click", (event) => {
    event.preventDefault();
    catchUp();
  });
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) catchUp();
  }).observe(newerLink);
}

// The search's terms in the message a result opened (?q=), accents and case ignored.
const fold = (text) => text.normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();

function markTerms(row, query) {
  const terms = query
    .replace(/\b(from|to|has|is|before|after):("[^"]*"|\S*)/gi, " ")
    .split(/[\s"]+/)
    .filter((term) => term && !term.startsWith("-") && term.toLowerCase() !== "or")
    .map(fold);
  if (!terms.length) return;
  const walker = document.createTreeWalker(row.querySelector(".content"), NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    // Fold character by character, so a match in the folded text maps back to the original.
    const original = [...node.data];
    const folded = original.map(fold);
    const flat = folded.join("");
    const starts = [];
    let at = 0;
    for (const piece of folded) {
      starts.push(at);
      at += piece.length;
    }
    const ranges = [];
    for (const term of terms) {
      let from = flat.indexOf(term);
      while (from !== -1) {
        const first = starts.findLastIndex((start) => start <= from);
        const last = starts.findLastIndex((start) => start < from + term.length);
        ranges.push([first, last + 1]);
        from = flat.indexOf(term, from + term.length);
      }
    }
    if (!ranges.length) continue;
    ranges.sort((a, b) => a[0] - b[0]);
    const pieces = [];
    let done = 0;
    for (const [start, end] of ranges) {
      if (start < done) continue;
      pieces.push(original.slice(done, start).join(""));
      const mark = document.createElement("mark");
      mark.textContent = original.slice(start, end).join("");
      pieces.push(mark);
      done = end;
    }
    pieces.push(original.slice(done).join(""));
    node.replaceWith(...pieces);
  }
}

// Opening: at the first unread if there is one (with a little of what came before), else
// at the bottom; a link to one message (#m123, from search) opens on that message.
function open() {
  for (const kept of unsentKept()) {
    const row = unsentRow(kept.content, kept.parent, kept.key);
    log.append(row);
    setStatus(row, "failed", words.network);
  }
  regroup();
  const linked = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (linked) {
    const query = new URLSearchParams(window.location.search).get("q");
    if (query) markTerms(linked, query);
    linked.scrollIntoView({ block: "center" });
    flash(linked);
  } else if (divider() && divider().nextElementSibling) {
    divider().scrollIntoView({ block: "start" });
    window.scrollBy(0, -48);
    if (atBottom()) toBottom();
  } else {
    toBottom();
  }
  placeControls();
  if (sessionStorage.getItem("draft-submitted") === "new" && document.querySelector(".flash .success")) {
    drafts.save("new", "");
    drafts.save("new:to", "");
  }
  sessionStorage.removeItem("draft-submitted");
}
open();
