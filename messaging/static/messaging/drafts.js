// Typed text that must survive a reload, a crash or a refused send: kept in this browser
// (localStorage) under the signed-in person and the place it was typed, as it is typed.
const user = document.body.dataset.user;

function key(place) {
  return `draft:${user}:${place}`;
}

export function load(place, fallback = null) {
  try {
    const value = window.localStorage.getItem(key(place));
    return value === null ? fallback : JSON.parse(value);
  } catch {
    return fallback;
  }
}

export function save(place, value) {
  try {
    const empty = value === "" || (Array.isArray(value) && value.length === 0) || value === null;
    if (empty) window.localStorage.removeItem(key(place));
    else window.localStorage.setItem(key(place), JSON.stringify(value));
  } catch {
    // storage full or refused: the text stays in the page
  }
}

// Keep a field's text as it is typed, put it back after a reload, and warn before leaving
// the page while `unsent()` says something was not sent.
export function keep(field, place, unsent = () => field.value.trim() !== "") {
  if (!field.value) field.value = load(place, "");
  field.addEventListener("input", () => save(place, field.value));
  window.addEventListener("beforeunload", (event) => {
    if (!unsent()) return;
    event.preventDefault();
    event.returnValue = ""; // the older way some browsers still need
  });
}
