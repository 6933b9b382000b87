/* Leadline tracking: <script src="https://YOUR-LEADLINE/t.js" data-site="SITE_KEY" async></script>
 *
 * Sends a page view on load, and what the page tells it (window.leadline.track(name, properties)),
 * in batches to YOUR-LEADLINE/t/collect. The anonymous visitor id lives in a first-party cookie on
 * this site (ll_vid); Leadline's own domain sets and reads no cookie.
 *
 * Nothing is sent and no cookie set when the browser asks not to be tracked (Do Not Track, Global
 * Privacy Control). With data-consent="required" on the tag, nothing is sent and no cookie set
 * until the page calls window.leadline.consent(true); consent(false) stops it and removes the cookie.
 * Calls made before this script loaded can wait in window.leadline.q as [method, arg, ...] lists.
 *
 * A page opened from a link in a mail from Leadline (?ll_t=...) joins this visitor to the person
 * the mail went to; the parameter is taken out of the address bar.
 *
 * window.leadline: track(name, properties), page(), consent(granted), visitorId() (null when not
 * tracking; forms send it along), flush(). No dependencies. */
(function () {
  "use strict";
  if (window.leadline && window.leadline.loaded) return;
  var COOKIE = "ll_vid", MAX_AGE = 34190000 /* about 13 months */, BATCH = 10, WAIT_MS = 1000;
  var script = document.currentScript || document.querySelector("script[data-site][src*='/t.js']");
  var pending = (window.leadline && window.leadline.q) || [];
  var site = script && script.getAttribute("data-site");
  var endpoint = script ? new URL(script.src, location.href).origin + "/t/collect" : null;
  var dnt = navigator.doNotTrack === "1" || window.doNotTrack === "1" || !!navigator.globalPrivacyControl;
  var consented = !(script && script.getAttribute("data-consent") === "required");
  var queue = [], timer = null, pageSent = false, vid = null, identify = null;
  // A link in a mail from Leadline carries ?ll_t=<token>: sent once with the next batch, so the
  // visits join the person it was sent to; taken out of the address, so it is not shared on.
  try {
    var here = new URL(location.href);
    identify = here.searchParams.get("ll_t");
    if (identify) {
      here.searchParams.delete("ll_t");
      history.replaceState(history.state, "", here.toString());
    }
  } catch (e) { identify = null; }

  function tracking() { return !!(site && endpoint && !dnt && consented); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function cookieRead() {
    var m = document.cookie.match(/(?:^|;\s*)ll_vid=([A-Za-z0-9_-]{1,64})(?:;|$)/);
    return m ? m[1] : null;
  }
  function cookieWrite(value, maxAge) {
    document.cookie = COOKIE + "=" + value + "; Max-Age=" + maxAge + "; path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function visitor() {
    if (!tracking()) return null;
    if (!vid) {
      vid = cookieRead() || uuid();
      cookieWrite(vid, MAX_AGE); // written on each page, so it lasts 13 months from the last visit
    }
    return vid;
  }
  function send(events) {
    var id = visitor();
    if (!id || !events.length) return;
    var batch = { site: site, visitor_id: id, events: events };
    if (identify) { batch.identify = identify; identify = null; }
    var body = JSON.stringify(batch);
    // text/plain: a "simple" request, so no CORS preflight, and sendBeacon may send it.
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(endpoint, new Blob([body], { type: "text/plain" }))) return;
    } catch (e) { /* fall back to fetch */ }
    if (window.fetch) {
      fetch(endpoint, {
        method: "POST", mode: "cors", credentials: "omit", keepalive: true,
        headers: { "Content-Type": "text/plain" }, body: body
      }).catch(function () { /* a lost batch is not worth an error on the customer's page */ });
    }
  }
  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    while (queue.length) send(queue.splice(0, BATCH));
  }
  function add(event) {
    if (!tracking()) return false;
    queue.push(event);
    if (queue.length >= BATCH) flush();
    else if (!timer) timer = setTimeout(flush, WAIT_MS);
    return true;
  }
  function base(name, properties) {
    return {
      name: String(name), url: location.href, path: location.pathname, title: document.title,
      referrer: document.referrer, occurred_at: new Date().toISOString(),
      properties: properties && typeof properties === "object" ? properties : {}
    };
  }
  function page() {
    if (add(base("page_view"))) pageSent = true;
  }

  var api = {
    loaded: true,
    track: function (name, properties) { return !!name && add(base(name, properties)); },
    page: page,
    visitorId: function () { return visitor(); },
    flush: function () { flush(); },
    consent: function (granted) {
      consented = !!granted;
      if (consented) {
        if (!pageSent) page();
        return;
      }
      queue = []; vid = null;
      if (timer) { clearTimeout(timer); timer = null; }
      cookieWrite("", 0);
    }
  };
  window.leadline = api;

  if (!site && window.console) console.error("Leadline: t.js needs data-site=\"YOUR SITE KEY\"");
  pending.forEach(function (call) {
    if (call && typeof api[call[0]] === "function" && call[0] !== "loaded") api[call[0]].apply(api, call.slice(1));
  });
  if (!pageSent) page();
  window.addEventListener("pagehide", function () { flush(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });
})();
