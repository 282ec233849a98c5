// A file for the conversation's composer: chosen with the button, dropped on the
// conversation, or pasted (an image copied or a screenshot). Its size and type are checked
// here before anything is uploaded, with the server's own limits (the composer's
// data-max-bytes and data-types); the server checks them again.
const form = document.getElementById("composer");
const input = document.getElementById("attach-input");
const chip = document.getElementById("attached");
const chipName = document.getElementById("attached-name");
const problem = document.getElementById("attach-problem");
const zone = document.getElementById("chat");
const maxBytes = Number(form.dataset.maxBytes);
const types = form.dataset.types.split(",");
let chosen = null;

const megabytes = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;

function refuse(reason) {
  problem.textContent = reason;
  problem.hidden = false;
}

export function choose(file) {
  problem.hidden = true;
  const extension = (file.name.includes(".") ? file.name.split(".").pop() : "").toLowerCase();
  if (!types.includes(extension)) {
    refuse(form.dataset.badType.replace("{name}", file.name));
    return false;
  }
  if (file.size > maxBytes) {
    refuse(form.dataset.tooBig.replace("{name}", file.name).replace("{size}", megabytes(file.size)));
    return false;
  }
  chosen = file;
  chipName.textContent = `${file.name} (${megabytes(file.size)})`;
  chip.hidden = false;
  return true;
}

// The file to send with the next message, and the composer cleared of it.
export function take() {
  const file = chosen;
  clear();
  return file;
}

export function clear() {
  chosen = null;
  input.value = "";
  chip.hidden = true;
}

export const hasFile = () => chosen !== null;

input.addEventListener("change", () => {
  if (input.files.length) choose(input.files[0]);
  input.value = ""; // the same file may be chosen again after removing it
});
document.getElementById("attached-remove").addEventListener("click", () => {
  clear();
  document.getElementById("composer-text").focus();
});

// Dropped anywhere on the conversation.
zone.addEventListener("dragover", (event) => {
  if (![...event.dataTransfer.types].includes("Files")) return;
  event.preventDefault();
  zone.classList.add("dropping");
});
zone.addEventListener("dragleave", (event) => {
  if (!zone.contains(event.relatedTarget)) zone.classList.remove("dropping");
});
zone.addEventListener("drop", (event) => {
  zone.classList.remove("dropping");
  if (!event.dataTransfer.files.length) return;
  event.preventDefault();
  choose(event.dataTransfer.files[0]);
});

// Pasted into the composer: a file on the clipboard (text pastes as text).
document.getElementById("composer-text").addEventListener("paste", (event) => {
  const file = [...event.clipboardData.files][0];
  if (!file) return;
  event.preventDefault();
  // A screenshot comes as "image.png"; a name with the moment is clearer in the card.
  const named = file.name && file.name !== "image.png" ? file : new File([file], `pasted-${Date.now()}.png`, { type: file.type });
  choose(named);
});
