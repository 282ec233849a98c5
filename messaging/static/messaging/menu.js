// The header's menu on a phone: the button shows and hides the links behind it. Without
// this script (or on a desktop) everything stays visible.
"use strict";
(function () {
  const nav = document.querySelector(".main-nav");
  const toggle = nav && nav.querySelector(".menu-toggle");
  if (!toggle) return;
  nav.classList.add("folding");
  function show(open) {
    nav.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
  }
  toggle.addEventListener("click", () => show(!nav.classList.contains("open")));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && nav.classList.contains("open")) {
      show(false);
      toggle.focus();
    }
  });
})();
