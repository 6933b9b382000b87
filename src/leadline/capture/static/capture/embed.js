/* Leadline embed: <script src="https://YOUR-LEADLINE/embed.js" data-form="SLUG" async></script>
 * Renders the form where the script tag stands and posts it as JSON to Leadline, cross-origin.
 * No dependencies, no cookies; plain DOM so it fits any site. */
(function () {
  "use strict";
  var scripts = document.querySelectorAll("script[data-form]");
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) { if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]); }
    if (text) node.textContent = text;
    return node;
  }
  function key() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function params() {
    var out = {}, q = new URLSearchParams(location.search);
    ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].forEach(function (n) { if (q.get(n)) out[n] = q.get(n); });
    out.page_url = location.href; if (document.referrer) out.referrer = document.referrer;
    return out;
  }
  function render(script, schema, base) {
    var slug = schema.slug, idem = key();
    var box = el("div", { "class": "leadline-form", "data-leadline-form": slug });
    var form = el("form", { novalidate: "" });
    form.appendChild(el("h2", {}, schema.title));
    if (schema.intro) form.appendChild(el("p", {}, schema.intro));
    var status = el("div", { role: "status", "aria-live": "polite", "class": "leadline-status" });
    schema.fields.forEach(function (f) {
      var id = "ll-" + slug + "-" + f.name, wrap = el("div", { "class": "leadline-field" }), input;
      if (f.type === "checkbox") {
        var l = el("label", {}); input = el("input", { type: "checkbox", id: id, name: f.name });
        l.appendChild(input); l.appendChild(document.createTextNode(" " + f.label)); wrap.appendChild(l);
      } else {
        wrap.appendChild(el("label", { "for": id }, f.label + (f.required ? " *" : "")));
        if (f.type === "textarea") input = el("textarea", { id: id, name: f.name, rows: "4" });
        else if (f.type === "select") {
          input = el("select", { id: id, name: f.name }); input.appendChild(el("option", { value: "" }, "Choose…"));
          f.options.forEach(function (o) { input.appendChild(el("option", { value: o }, o)); });
        } else input = el("input", { type: f.type, id: id, name: f.name });
        if (f.required) { input.setAttribute("required", ""); input.setAttribute("aria-required", "true"); }
        wrap.appendChild(input);
      }
      wrap.appendChild(el("div", { "class": "leadline-error", id: id + "-error" }));
      form.appendChild(wrap);
    });
    function check(name, label) {
      var l = el("label", {}), input = el("input", { type: "checkbox", name: name, id: "ll-" + slug + "-" + name });
      l.appendChild(input); l.appendChild(document.createTextNode(" " + label));
      var w = el("div", { "class": "leadline-field" }); w.appendChild(l);
      w.appendChild(el("div", { "class": "leadline-error", id: "ll-" + slug + "-" + name + "-error" })); form.appendChild(w);
    }
    if (schema.contact_box) check("contact_me", schema.contact_box);
    if (schema.consent) check("consent", schema.consent.text);
    var hp = el("div", { "aria-hidden": "true", style: "position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden" });
    hp.appendChild(el("input", { type: "text", name: schema.honeypot, tabindex: "-1", autocomplete: "off" }));
    form.appendChild(hp);
    var button = el("button", { type: "submit" }, schema.submit_label);
    form.appendChild(button); form.appendChild(status); box.appendChild(form);
    script.parentNode.insertBefore(box, script.nextSibling);

    // "Try again" after the retries gave up: sends the same submission, with the same key.
    var again = el("button", { type: "button", "class": "leadline-again", hidden: "" }, "Try again");
    form.insertBefore(again, status);

    function collect() {
      var data = params();
      Array.prototype.forEach.call(form.elements, function (input) {
        if (!input.name) return;
        data[input.name] = input.type === "checkbox" ? input.checked : input.value;
      });
      // The anonymous visitor of Leadline's t.js on this page, if any: their earlier visits join them.
      var visitor = window.leadline && window.leadline.visitorId && window.leadline.visitorId();
      if (visitor) data.visitor_id = visitor;
      // When the form was shown (signed by Leadline): a form sent back in a blink was a bot's.
      if (schema.rendered) data[schema.rendered_field || "_rendered"] = schema.rendered;
      return data;
    }
    function failed(res) {
      var fields = (res.body && res.body.fields) || {}, first = null;
      Object.keys(fields).forEach(function (name) {
        var n = document.getElementById("ll-" + slug + "-" + name + "-error"), input = form.querySelector('[name="' + name + '"]');
        if (n) n.textContent = fields[name];
        if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", "ll-" + slug + "-" + name + "-error"); first = first || input; }
      });
      status.textContent = (res.body && res.body.error) || "Something went wrong.";
      if (first) first.focus();
    }
    function thanks(res) {
      var done = el("div", { "class": "leadline-thanks", role: "status", tabindex: "-1" });
      done.appendChild(el("h2", {}, schema.thank_you.title));
      if (schema.thank_you.message) done.appendChild(el("p", {}, schema.thank_you.message));
      if (res.body.download_url) done.appendChild(el("a", { href: res.body.download_url, "class": "leadline-download" }, "Download"));
      box.replaceChild(done, form); done.focus();
    }
    // A lost connection, a full queue (429) or Leadline unable to store just now (502-504) is
    // sent again, with the same Idempotency-Key (it arrives once), after 1, 2, 4, 8 s (with
    // jitter, never sooner than the server's Retry-After), at most TRIES times within LIMIT ms.
    var TRIES = 5, LIMIT = 60000, RETRY = [429, 502, 503, 504];
    function send(data) {
      var started = Date.now(), tries = 0;
      button.disabled = true; again.hidden = true; status.textContent = "Sending…";
      function attempt() {
        tries += 1;
        fetch(schema.submit_url, {
          method: "POST", mode: "cors", credentials: "omit",
          headers: { "Content-Type": "application/json", "Idempotency-Key": idem },
          body: JSON.stringify(data)
        }).then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (b) {
            return { ok: r.ok, status: r.status, body: b, wait: parseFloat(r.headers.get("Retry-After")) };
          });
        }, function () { return { ok: false, status: 0, body: {}, wait: NaN }; })
          .then(function (res) {
            if (res.ok) { thanks(res); return; }
            if (res.status === 0 || RETRY.indexOf(res.status) >= 0) {
              var delay = 1000 * Math.pow(2, tries - 1) * (0.75 + Math.random() / 2);
              if (res.wait > 0) delay = Math.max(delay, res.wait * 1000 + Math.random() * 500);
              if (tries < TRIES && Date.now() - started + delay <= LIMIT) {
                status.textContent = "Still sending… (your details are safe here; trying again in " + Math.ceil(delay / 1000) + " s)";
                setTimeout(attempt, delay);
                return;
              }
              button.disabled = false; again.hidden = false;
              status.textContent = "We could not send the form just now. Your details are still here: please try again in a moment.";
              again.focus();
              return;
            }
            button.disabled = false;
            failed(res); // a field to fix, or a refusal: not sent again by itself
          });
      }
      attempt();
    }
    again.addEventListener("click", function () { send(collect()); });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      form.querySelectorAll(".leadline-error").forEach(function (n) { n.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach(function (n) { n.removeAttribute("aria-invalid"); });
      send(collect());
    });
  }
  Array.prototype.forEach.call(scripts, function (script) {
    if (script.getAttribute("data-leadline-done")) return;
    script.setAttribute("data-leadline-done", "1");
    var base = new URL(script.src).origin, slug = script.getAttribute("data-form");
    fetch(base + "/f/" + encodeURIComponent(slug) + "/schema.json", { mode: "cors", credentials: "omit" })
      .then(function (r) { if (!r.ok) throw new Error("form " + slug + ": " + r.status); return r.json(); })
      .then(function (schema) { render(script, schema, base); })
      .catch(function (e) { if (window.console) console.error("Leadline:", e.message); });
  });
})();
