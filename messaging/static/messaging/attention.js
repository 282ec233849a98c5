// Telling someone who is looking elsewhere that a message arrived: a browser notification
// and a short sound, each if their settings say so (the settings page, which asks the
// browser's permission when notifications are turned on; the page carries the choices as
// data-notify and data-sound), and only while the tab is hidden or unfocused.
const wants = (choice) => document.body.dataset[choice] !== undefined;

// Someone is looking at this page: the tab is visible and has the focus.
export const attended = () => document.visibilityState === "visible" && document.hasFocus();

let audio = null;

// A short two-tone chime made on the spot (no file to fetch). Browsers let a page play only
// after a gesture: the AudioContext is made on the page's first click or key.
function chime() {
  if (!audio) return;
  const now = audio.currentTime;
  [880, 660].forEach((pitch, n) => {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = pitch;
    gain.gain.setValueAtTime(0.08, now + n * 0.12);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + n * 0.12 + 0.25);
    tone.connect(gain).connect(audio.destination);
    tone.start(now + n * 0.12);
    tone.stop(now + n * 0.12 + 0.3);
  });
}

function unlockAudio() {
  if (wants("sound") && !audio && window.AudioContext) audio = new AudioContext();
}
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });

export function attentionFor() {
  const supported = "Notification" in window;
  return {
    // A message to this person arrived (the "message.received" event's message).
    arrived(message) {
      if (attended()) return;
      if (wants("sound")) chime();
      if (!supported || Notification.permission !== "granted" || !wants("notify")) return;
      const note = new Notification(message.sender_username, {
        body: message.content.slice(0, 140),
        tag: `message-${message.id}`, // one notification however many tabs are open
        lang: document.documentElement.lang,
      });
      note.onclick = () => {
        window.focus();
        window.location.assign(`/people/${message.sender}/#m${message.id}`);
        note.close();
      };
    },
  };
}
