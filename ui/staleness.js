// The browser's side of ui/staleness.py. Each heartbeat the server sends runs this script and then
// window.lmStaleness.beat(every, floor): the first one in a tab installs a once-a-second check, every
// one notes the time it arrived. The check
// looks for heartbeat elements in the page: none (an ended run, a page with nothing live) means no
// update is expected and no banner is shown.
(() => {
  if (!window.lmStaleness) {
    const BANNER = "lm-stale-banner";
    const s = { beat: performance.now(), visible: performance.now(), every: 2, floor: 15 };
    const age = (ms) => (ms < 120000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60000)} min`);
    const hide = () => document.getElementById(BANNER)?.remove();
    const show = (since) => {
      let banner = document.getElementById(BANNER);
      if (!banner) {
        // Outside Streamlit's React tree (a sibling of its root), which it would not expect to share.
        banner = document.createElement("div");
        banner.id = BANNER;
        banner.setAttribute("role", "status");
        document.body.appendChild(banner);
      }
      // The page's own colours and type, so the banner reads in a light, a dark or a chosen theme.
      const app = getComputedStyle(document.querySelector(".stApp") || document.body);
      banner.style.setProperty("--lm-page-bg", app.backgroundColor);
      banner.style.setProperty("--lm-page-fg", app.color);
      banner.style.setProperty("--lm-page-font", app.fontFamily);
      banner.textContent = `No update from the app's server for ${age(since)}: what this page shows ` +
        "may be out of date. Runs train on in their own processes; reload the page when the server answers again.";
    };
    const check = () => {
      // A hidden tab's timers are throttled, so its page cannot tell a slow server from a sleeping
      // tab: it is not judged, and once shown again it gets a full threshold before it is.
      if (!document.querySelector("[data-lm-heartbeat]") || document.visibilityState !== "visible") {
        hide();
        return;
      }
      const now = performance.now();
      const limit = Math.max(3 * s.every, s.floor) * 1000;
      if (now - Math.max(s.beat, s.visible) > limit) show(now - s.beat); else hide();
    };
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") s.visible = performance.now();
      check();
    });
    setInterval(check, 1000);
    window.lmStaleness = {
      beat(every, floor) {
        Object.assign(s, { beat: performance.now(), every, floor });
        hide();
      },
    };
  }
})();
