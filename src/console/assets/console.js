// memlink console: the overview's auto-refresh (every data-refresh-ms, 2 s by default),
// paused while the tab is hidden and switchable with the "Auto-refresh" checkbox; the choice
// is remembered in this browser. Everything else works without this script.
(function () {
  "use strict";
  var KEY = "memlink.console.autoRefresh";

  function byId(id) { return document.getElementById(id); }
  function panel() { return byId("overview-live"); }
  function toggle() { return byId("auto-refresh"); }

  function intervalMs() {
    var p = panel();
    var ms = p ? parseInt(p.getAttribute("data-refresh-ms"), 10) : NaN;
    return ms > 0 ? ms : 2000;
  }

  function enabled() {
    var t = toggle();
    return !!t && t.checked;
  }

  function visible() { return document.visibilityState === "visible"; }

  function show() {
    var s = byId("refresh-state");
    if (!s) { return; }
    if (!enabled()) {
      s.textContent = "Auto-refresh is off.";
    } else if (!visible()) {
      s.textContent = "Paused while this tab is hidden.";
    } else {
      s.textContent = "Refreshing every " + intervalMs() / 1000 + " s.";
    }
    var p = panel();
    if (p) { p.setAttribute("data-refresh-state", !enabled() ? "off" : (visible() ? "on" : "paused")); }
  }

  function refresh() {
    var p = panel();
    if (p && window.htmx) { window.htmx.trigger(p, "refresh"); }
  }

  function start() {
    var t = toggle();
    if (!t || !panel()) { return; }
    var saved = null;
    try { saved = window.localStorage.getItem(KEY); } catch (e) { saved = null; }
    if (saved === "off") { t.checked = false; }
    t.addEventListener("change", function () {
      try { window.localStorage.setItem(KEY, t.checked ? "on" : "off"); } catch (e) { /* private mode */ }
      show();
      if (t.checked) { refresh(); }
    });
    document.addEventListener("visibilitychange", function () {
      show();
      if (visible() && enabled()) { refresh(); }
    });
    var now = byId("refresh-now");
    if (now) {
      now.addEventListener("click", function (e) { e.preventDefault(); refresh(); });
    }
    window.setInterval(function () {
      if (enabled() && visible()) { refresh(); }
    }, intervalMs());
    show();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
