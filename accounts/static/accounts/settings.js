// The settings page: the time zone defaults to this browser's (shown, and chosen when none
// is saved), and turning browser notifications on asks the browser's permission, on that
// click and never before; refused, the box stays off and the page says why.
const form = document.getElementById("settings");
const zone = document.getElementById("id_time_zone");
const zoneNote = document.getElementById("browser-zone");
const notify = document.getElementById("id_notifications");
const notifyState = document.getElementById("notifications-state");

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (browserZone && zoneNote) {
  zoneNote.textContent = form.dataset.browserZone.replace("{zone}", browserZone.replaceAll("_", " "));
  if (!zone.value && [...zone.options].some((option) => option.value === browserZone)) zone.value = browserZone;
}

notify?.addEventListener("change", () => {
  if (!notify.checked) return;
  if (!("Notification" in window)) {
    notify.checked = false;
    notifyState.textContent = form.dataset.unsupported;
    return;
  }
  Notification.requestPermission().then((permission) => {
    if (permission !== "granted") {
      notify.checked = false;
      notifyState.textContent = form.dataset.blocked;
    }
  });
});
