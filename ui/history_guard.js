// The browser's side of ui/history.py's guard(): a page's address written onto the page being left.
// Streamlit (1.67) writes a page's query at once, onto document.location's path, but the address of a
// page reached by a link or st.switch_page only in a React callback after the next commit. Train,
// arriving by the sidebar with the session's settings, so pushed "/compare?preset=tiny&lr=2.0" before
// "/train?preset=tiny&lr=2.0" about one time in four: one Back landed on Compare with Train's query.
// This notes where a click is going. A query pushed onto the page being left that only the page being
// opened writes goes to that page: after the entry of a link's own query, over a bare link's arrival (as
// below). A button that calls st.switch_page with a query (Start's "Start now": ?run=)
// pushed it onto Start, and the leaving page's own address callback can still be pending then, so that
// write is dropped instead: Streamlit has kept the query, and the new page's address carries it, one
// entry. Streamlit can also abandon a click's navigation (a box left by that click reruns its page
// first), and that page's own query then stays where it is: the query's keys tell whose it is.
// A page arrived at by a click (the sidebar's bare link, or a switch's ?run=) that writes the session's
// settings at once writes them over its arrival entry instead of after it: that entry would only be a
// step, which Back shows again as it was, so the first Back seemed to do nothing. Only a write that keeps
// the arrival's own query and adds to it; any input of the user's before that write ends it.
// configure({switches: {key class prefix: page name}, keys: {page name: the query keys it writes}}).
(() => {
  if (window.lmHistoryGuard) return;
  const original = history.pushState.bind(history);
  const state = { going: null, arrived: null, switches: {}, keys: {}, moved: [], replaced: [] };
  // Whether the query `search` holds every key and value of the query `base`.
  const keeps = (search, base) => {
    const next = new URLSearchParams(search);
    return [...new URLSearchParams(base)].every(([key, value]) => next.getAll(key).includes(value));
  };
  // Whether only the page at `path` writes every key of `search` (the main page's name is "").
  const writes = (path, search) => {
    const keys = state.keys[path.split("/").pop()] || [];
    return [...new URLSearchParams(search).keys()].every((key) => keys.includes(key));
  };
  // A page's path as the sidebar links it (the app may be served under a base path).
  const here = (name) => {
    const links = [...document.querySelectorAll("[data-testid='stSidebarNav'] a[href]")];
    const link = links.find((a) => new URL(a.href).pathname.endsWith(`/${name}`));
    return link ? new URL(link.href).pathname : new URL(name, location.href).pathname;
  };

  // Where a click goes: a link of this app that Streamlit follows itself (the sidebar, st.page_link:
  // its handler has prevented the browser's own navigation by the time the click bubbles up here; a
  // Ctrl+click opens another tab and this one goes nowhere), with its own query, which Streamlit writes
  // on arrival; or a button known to switch pages. Any other click forgets an earlier one.
  window.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const link = target?.closest("a[href]");
    const url = link ? new URL(link.href, location.href) : null;
    if (url && url.origin === location.origin) {
      state.going = event.defaultPrevented ? { path: url.pathname, search: url.search } : null;
      return;
    }
    const button = target?.closest("button");
    const keyed = button?.closest("[class*='st-key-']");
    const prefix = keyed && Object.keys(state.switches).find((p) => keyed.className.includes(`st-key-${p}`));
    state.going = prefix ? { path: here(state.switches[prefix]), search: null } : null;
  });
  window.addEventListener("popstate", () => { state.going = null; state.arrived = null; });
  // The user's own input: a write after it is the change they made, an entry of its own.
  for (const kind of ["pointerdown", "keydown"]) {
    window.addEventListener(kind, () => { state.arrived = null; }, true);
  }

  history.pushState = (data, title, address) => {
    const going = state.going;
    const arrived = state.arrived;
    state.arrived = null;
    const next = address == null ? null : new URL(address, location.href);
    if (going && next && next.search && next.pathname === location.pathname && going.path !== location.pathname
        && writes(going.path, next.search) && !writes(location.pathname, next.search)) {
      state.moved.push(String(address));
      // A switch's page may write its query more than once before the new page's address is written
      // (QA round 27: ?run= and then the session's settings): each waits for that address, which carries the last.
      if (going.search === null) return undefined;
      state.going = null;
      if (going.search) original({}, "", going.path + going.search);
      return original(data, title, going.path + next.search + next.hash);
    }
    if (arrived && next && next.search && next.pathname === arrived && location.pathname === arrived
        && next.search !== location.search && keeps(next.search, location.search) && writes(arrived, next.search)) {
      state.replaced.push(String(address));
      return history.replaceState(data, title, address);
    }
    const result = original(data, title, address);
    if (going && location.pathname === going.path) {
      state.going = null;
      state.arrived = going.path;
    }
    return result;
  };
  window.lmHistoryGuard = {
    configure: ({ switches, keys }) => { state.switches = switches; state.keys = keys; },
    moved: () => [...state.moved],   // the addresses it moved or dropped, for a test to name
    replaced: () => [...state.replaced],   // the arrivals' first writes it wrote over their entry
  };
})();
