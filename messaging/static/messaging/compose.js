// A new conversation: the person's name typed ahead from the API's user search (a datalist,
// which the browser shows and screen readers announce), and the text kept as a draft until
// the message is sent.
import * as drafts from "./drafts.js";

const form = document.getElementById("compose");
const to = form.elements.receiver;
const content = form.elements.content;
const people = document.getElementById("people");
let submitting = false;
let asked = "";
let timer = null;

to.setAttribute("list", "people");
to.setAttribute("autocomplete", "off");

function suggest() {
  const query = to.value.trim();
  if (query.length < 3 || query === asked) return;
  asked = query;
  const url = `${form.dataset.peopleUrl}?search=${encodeURIComponent(query)}`;
  fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : { results: [] }))
    .then((page) => {
      if (query !== to.value.trim()) return; // typed on meanwhile
      people.replaceChildren(
        ...page.results.map((person) => {
          const option = document.createElement("option");
          option.value = person.username;
          return option;
        }),
      );
    })
    .catch(() => {});
}

to.addEventListener("input", () => {
  window.clearTimeout(timer);
  timer = window.setTimeout(suggest, 150);
});

if (!to.value) to.value = drafts.load("new:to", "");
to.addEventListener("input", () => drafts.save("new:to", to.value));
drafts.keep(content, "new", () => !submitting && content.value.trim() !== "");
form.addEventListener("submit", () => {
  submitting = true;
  // The conversation page clears the draft once it says the message was sent (chat.js).
  sessionStorage.setItem("draft-submitted", "new");
});
