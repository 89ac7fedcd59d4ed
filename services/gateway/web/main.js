/* Start-up: language, session check, header buttons, hash routing. */
"use strict";
(async function start() {
  applyI18n();
  document.getElementById("lang").addEventListener("click", () => setLang(App.lang === "en" ? "ko" : "en"));
  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/v1/auth/logout"); } catch (_) { /* the session may be gone already */ }
    showLogin();
  });
  window.addEventListener("hashchange", route);
  try {
    signedIn(await api("GET", "/api/v1/auth/me", undefined, { quiet401: true }));
    route();
  } catch (_) {
    showLogin();
  }
})();
