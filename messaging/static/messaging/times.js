// Every <time datetime> of the page in the reader's time zone (their settings', else the
// browser's) and language; the server writes UTC, or their zone: "now", "5 min ago",
// "14:05" today, "Yesterday 14:05", "3 Dec 14:05", a date for other years; the full date
// and time on hover and for screen readers. Relative times are kept up to date, and times
// added to the page later (live updates) are rendered too.
// data-time-zone: the zone chosen in the settings.
const lang = document.documentElement.lang || navigator.language;
const chosen = document.body.dataset.timeZone;
const zone = chosen && (() => {
  try {
    new Intl.DateTimeFormat("en", { timeZone: chosen });
    return chosen;
  } catch {
    return undefined; // a zone this browser does not know: its own
  }
})();
const inZone = (options) => (zone ? { ...options, timeZone: zone } : options);
const clock = new Intl.DateTimeFormat(lang, inZone({ hour: "numeric", minute: "2-digit" }));
const dayMonth = new Intl.DateTimeFormat(lang, inZone({ day: "numeric", month: "short" }));
const date = new Intl.DateTimeFormat(lang, inZone({ day: "numeric", month: "short", year: "numeric" }));
const full = new Intl.DateTimeFormat(lang, inZone({ dateStyle: "full", timeStyle: "short" }));
const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
const DAY_MS = 86400000;

// A moment's calendar day in the zone, as a day number (and its year).
const ymd = new Intl.DateTimeFormat("en-CA", inZone({ year: "numeric", month: "2-digit", day: "2-digit" }));
const calendar = (d) => ymd.format(d).split("-").map(Number);
const midnight = (d) => {
  const [year, month, day] = calendar(d);
  return Date.UTC(year, month - 1, day);
};
const year = (d) => calendar(d)[0];
const capital = (text) => text.charAt(0).toLocaleUpperCase(lang) + text.slice(1);

export function short(at, now = new Date()) {
  const seconds = (now - at) / 1000;
  if (seconds < 45) return capital(relative.format(0, "second")); // "Now", "Maintenant"
  if (seconds < 3600) return relative.format(-Math.max(1, Math.round(seconds / 60)), "minute");
  const days = Math.round((midnight(now) - midnight(at)) / DAY_MS);
  if (days === 0) return clock.format(at);
  if (days === 1) return `${capital(relative.format(-1, "day"))} ${clock.format(at)}`;
  if (year(at) === year(now)) return `${dayMonth.format(at)} ${clock.format(at)}`;
  return date.format(at);
}

function render(element) {
  const at = new Date(element.dateTime);
  if (Number.isNaN(at.getTime())) return;
  let shown = element.querySelector(".when");
  let spoken = element.querySelector(".visually-hidden");
  if (!shown) {
    shown = document.createElement("span");
    shown.className = "when";
    shown.setAttribute("aria-hidden", "true");
    spoken = document.createElement("span");
    spoken.className = "visually-hidden";
    element.replaceChildren(shown, spoken);
  }
  const whole = full.format(at);
  element.title = whole;
  shown.textContent = short(at);
  spoken.textContent = whole;
}

function renderAll(root) {
  if (root.matches && root.matches("time[datetime]")) render(root);
  else if (root.querySelectorAll) root.querySelectorAll("time[datetime]").forEach(render);
}

renderAll(document);
window.setInterval(() => renderAll(document), 30000);
new MutationObserver((records) => {
  for (const record of records) record.addedNodes.forEach(renderAll);
}).observe(document.body, { childList: true, subtree: true });
