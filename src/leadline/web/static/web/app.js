// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  function announce(id, text) {
    var status = document.getElementById(id);
    if (!status) return;
    status.textContent = "";
    // A fresh text node after a tick, so screen readers announce the same words twice in a row.
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  function setUpCopyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        navigator.clipboard.writeText(source.innerText.trim()).then(
          function () {
            button.classList.add("copied");
            announce("copy-status", "Copied");
            button.firstChild.textContent = "Copied";
            window.setTimeout(function () {
              button.classList.remove("copied");
              button.firstChild.textContent = "Copy";
            }, 2000);
          },
          function () { announce("copy-status", "Could not copy; select the text and copy it by hand."); }
        );
      });
    });
  }

  // The builder's "Add a field": the formset must count the rows htmx added.
  document.addEventListener("htmx:afterSwap", function (event) {
    var rows = document.getElementById("field-rows");
    if (!rows || event.detail.target !== rows) return;
    var total = document.getElementById("id_fields-TOTAL_FORMS");
    var count = rows.querySelectorAll("tr.field-row").length;
    if (total) total.value = String(count);
    var added = rows.querySelector("tr.field-row:last-child input");
    if (added) added.focus();
    announce("builder-status", "Field " + count + " added.");
  });

  document.addEventListener("DOMContentLoaded", function () {
    setUpCopyButtons(document);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  });
})();

// Inbox (web/inbox.html): live countdowns to first-touch deadlines, the email dialog, and
// errors from the one-click touch buttons. Self-contained; does nothing on other pages.
(function () {
  "use strict";

  // The server's clock minus the browser's, in ms. Deadlines are the server's times, and tests
  // move the server's clock, so the page's data-server-now starts it and every answer from the
  // server (X-Server-Now, sent with each poll, even an empty one) keeps it current.
  var offset = 0;

  function setServerNow(iso) {
    var server = Date.parse(iso || "");
    if (!isNaN(server)) offset = server - Date.now();
  }

  // The same words as leadline.web.inbox.countdown_text.
  function span(seconds) {
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    if (seconds < 86400) {
      var minutes = Math.floor(seconds / 60) % 60;
      return Math.floor(seconds / 3600) + " h " + (minutes < 10 ? "0" : "") + minutes + " min";
    }
    var hours = Math.floor(seconds / 3600);
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  }

  function countdownText(leftMs) {
    if (leftMs > 0) return "due in " + span(Math.ceil(leftMs / 1000));
    return "overdue by " + span(Math.floor(-leftMs / 1000));
  }

  // Not a live region: a screen reader reads the deadline when it gets there, and is not told
  // every second that a number changed.
  function tick() {
    var now = Date.now() + offset;
    document.querySelectorAll("time.countdown").forEach(function (countdown) {
      var due = Date.parse(countdown.getAttribute("datetime") || "");
      if (isNaN(due)) return;
      var left = due - now;
      var text = countdownText(left);
      if (countdown.textContent !== text) countdown.textContent = text;
      var row = countdown.closest(".inbox-row");
      if (!row) return;
      row.classList.toggle("is-overdue", left <= 0);
      var flag = row.querySelector("[data-overdue-flag]");
      if (flag) flag.hidden = left > 0;
    });
  }

  function showAlert(text) {
    var alert = document.getElementById("inbox-alert");
    if (!alert) return;
    alert.textContent = text;
    alert.hidden = !text;
  }

  var opener = null;  // the id of what opened the email dialog, to go back to

  function dialog() { return document.getElementById("compose-dialog"); }

  function closeDialog() {
    var open = dialog();
    if (open && open.open) open.close();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var inbox = document.querySelector(".inbox[data-server-now]");
    if (!inbox) return;
    setServerNow(inbox.getAttribute("data-server-now"));
    tick();
    window.setInterval(tick, 1000);
    var compose = dialog();
    if (compose) {
      compose.addEventListener("close", function () {
        document.getElementById("compose-body").innerHTML = "";
        var back = opener && document.getElementById(opener);
        if (back) back.focus();
        opener = null;
      });
      compose.addEventListener("click", function (event) {
        if (event.target.closest("[data-dialog-close]")) {
          event.preventDefault();
          closeDialog();
        }
      });
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || !document.querySelector(".inbox")) return;
    setServerNow(xhr.getResponseHeader("X-Server-Now"));
    if (event.detail.successful && event.detail.elt.closest(".inbox-row, #inbox-notes")) {
      showAlert("");
    }
  });

  // The email form comes back with 400 and its problems marked: show it, like a 200.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.id === "compose-body" &&
        event.detail.requestConfig.verb === "post") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var elt = event.detail.elt;
    // The row may be gone already (a poll swapped the list): ask the page, not the element.
    if (!document.querySelector(".inbox") || !elt || elt.id === "inbox-poll") return;
    var xhr = event.detail.xhr;
    if (xhr.status === 403) {
      showAlert("That request is no longer yours to work: it has been passed to someone else.");
    } else if (xhr.status === 400 && (xhr.getResponseHeader("Content-Type") || "").indexOf("text/plain") === 0) {
      showAlert("Nothing was logged: " + xhr.responseText);
    } else {
      showAlert("Something went wrong (HTTP " + xhr.status + "). Nothing was logged; try again.");
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var body = event.detail.target;
    if (!body || body.id !== "compose-body") return;
    var compose = dialog();
    if (!body.querySelector("form")) return;  // queued: the dialog closes once settled
    if (!compose.open) {
      // The element that asked for the form (the row's "Email…"), by id: a poll may have
      // replaced it, or moved the focus, while the form was on its way.
      var asker = event.detail.requestConfig && event.detail.requestConfig.elt;
      opener = (asker && asker.id) || (document.activeElement && document.activeElement.id);
      compose.showModal();
    }
    var invalid = body.querySelector("[aria-invalid=true]");
    var text = body.querySelector("[data-compose-text]");
    if (invalid) {
      invalid.focus();
    } else if (text) {
      // After the greeting, where the message starts.
      var caret = text.value.indexOf("\n\n");
      caret = caret < 0 ? text.value.length : caret + 2;
      text.focus();
      text.setSelectionRange(caret, caret);
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (!document.querySelector(".inbox")) return;
    tick();
    // The email was queued: the dialog shows no form any more. Closing it goes back to the
    // row's "Email…", which the answer has just replaced.
    var compose = dialog();
    var body = document.getElementById("compose-body");
    if (compose && compose.open && body && !body.querySelector("form")) closeDialog();
    // "Mark read" goes away with the item's unread state: focus its title instead.
    var elt = event.detail.elt;
    var wanted = elt && elt.getAttribute && elt.getAttribute("data-focus-after");
    var active = document.activeElement;
    if (wanted && (!active || active === document.body)) {
      var next = document.getElementById(wanted);
      if (next) next.focus();
    }
  });
})();

// Journey editor (web/_journey_editor.html): Alt+↑ / Alt+↓ in a step presses its "Move up" /
// "Move down" button. The buttons do the work (htmx, or a plain POST without this file).
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    var step = event.target.closest && event.target.closest("#journey-editor [data-step]");
    if (!step) return;
    var button = step.querySelector(event.key === "ArrowUp" ? "[data-move=up]" : "[data-move=down]");
    event.preventDefault();
    if (button && !button.disabled) button.click();
  });

  function showKeyHints(root) {
    root.querySelectorAll("[data-editor-keys]").forEach(function (hint) { hint.hidden = false; });
  }

  document.addEventListener("DOMContentLoaded", function () { showKeyHints(document); });
  document.addEventListener("htmx:afterSwap", function () { showKeyHints(document); });
})();

// Security headers (issue 9): the page's Content-Security-Policy allows no inline handlers and
// no eval, so what used to be hx-on attributes and hx-trigger filters lives here, driven by
// data- attributes (event delegation: it works for content htmx swaps in later too).
(function () {
  "use strict";

  // data-swap-statuses="400 409": swap these error answers in (a form with its errors) instead
  // of dropping them, on the element or for requests from inside it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = String(event.detail.xhr.status);
    var el = event.target instanceof Element ? event.target.closest("[data-swap-statuses]") : null;
    while (el) {
      if (el.getAttribute("data-swap-statuses").split(/\s+/).indexOf(status) !== -1) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
        return;
      }
      el = el.parentElement ? el.parentElement.closest("[data-swap-statuses]") : null;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail;
    if (!detail.successful) return;
    // data-announce="ID": after the element's request succeeds, put data-announce-done (or,
    // when the selector data-announce-if matches nothing, data-announce-else) into #ID. The
    // element may have been swapped out already: the request's own element is in its config.
    var elt = detail.requestConfig && detail.requestConfig.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-announce")) {
      var status = document.getElementById(elt.getAttribute("data-announce"));
      var test = elt.getAttribute("data-announce-if");
      var text = !test || document.querySelector(test)
        ? elt.getAttribute("data-announce-done")
        : elt.getAttribute("data-announce-else");
      if (status && text !== null) status.textContent = text;
    }
    // data-refresh-after="/path/": fire "refresh-after" on the element (its hx-trigger) when a
    // request to a path containing that text succeeds anywhere on the page.
    var path = (detail.pathInfo && detail.pathInfo.requestPath) || "";
    document.querySelectorAll("[data-refresh-after]").forEach(function (target) {
      if (path.indexOf(target.getAttribute("data-refresh-after")) !== -1 && window.htmx) {
        window.htmx.trigger(target, "refresh-after");
      }
    });
  });

  // A form with data-change-ignore="q": a change to any other field fires "filter-change"
  // (its hx-trigger); the search box has its own, delayed trigger.
  document.addEventListener("change", function (event) {
    var field = event.target;
    var form = field && field.form;
    if (!form || !form.hasAttribute("data-change-ignore") || !window.htmx) return;
    if (field.name === form.getAttribute("data-change-ignore")) return;
    window.htmx.trigger(form, "filter-change");
  });

  // A link with data-current-query carries the page's current filters (?…) when followed.
  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("a[data-current-query]") : null;
    if (link) link.search = window.location.search;
  });
})();
