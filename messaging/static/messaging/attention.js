// Telling someone who is looking elsewhere that a message arrived: a browser notification
// (the Notification API, asked for only after a click on the footer's button, never on
// load) and, if chosen, a short sound; both only while the tab is hidden or unfocused. The
// choices are kept in this browser (localStorage).
const NOTIFY = "notify";
const SOUND = "sound";

const stored = (key) => {
  try {
    return window.localStorage.getItem(key) === "1";
  } catch {
    return false;
  }
};
const store = (key, on) => {
  try {
    window.localStorage.setItem(key, on ? "1" : "0");
  } catch {
    // private mode: the choice lasts as long as the page
  }
};

// Someone is looking at this page: the tab is visible and has the focus.
export const attended = () => document.visibilityState === "visible" && document.hasFocus();

let audio = null;

// A short two-tone chime made on the spot (no file to fetch). The AudioContext is made on
// the click that turns sound on: browsers let a page play only after a gesture.
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

// After a reload the AudioContext is gone: the page's first click or key makes it again.
function unlockAudio() {
  if (stored(SOUND) && !audio && window.AudioContext) audio = new AudioContext();
}
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });

export function attentionFor() {
  const panel = document.getElementById("attention");
  const button = document.getElementById("notify-on");
  const state = document.getElementById("notify-state");
  const sound = document.getElementById("sound-on");
  const supported = "Notification" in window;

  function show() {
    if (!panel) return;
    panel.hidden = false;
    const permission = supported ? Notification.permission : "denied";
    const on = permission === "granted" && stored(NOTIFY);
    button.hidden = on || permission === "denied" || !supported;
    state.textContent = on ? panel.dataset.on : permission === "denied" ? panel.dataset.blocked : "";
    sound.checked = stored(SOUND);
  }

  if (panel) {
    button.addEventListener("click", () => {
      Notification.requestPermission().then((permission) => {
        store(NOTIFY, permission === "granted");
        show();
      });
    });
    sound.addEventListener("change", () => {
      store(SOUND, sound.checked);
      unlockAudio();
    });
    show();
  }

  return {
    // A message to this person arrived (the "message.received" event's message).
    arrived(message) {
      if (attended()) return;
      if (stored(SOUND)) chime();
      if (!supported || Notification.permission !== "granted" || !stored(NOTIFY)) return;
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
