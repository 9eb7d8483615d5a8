/* Agent pages: the agent's key (kept in this tab's sessionStorage only), checked before the page opens,
   and small DOM/API helpers. */
(function () {
  "use strict";
  var STORE = "deflect-agent-key";
  var BRANDS = { amazon: "Amazon", ebay: "eBay", walmart: "Walmart", shopify: "Shopify", web: "Web", email: "Email" };
  var ready = [], started = false;
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function key() { try { return sessionStorage.getItem(STORE); } catch (e) { return null; } }
  function request(method, path, body, withKey) {
    var init = { method: method, headers: { "X-API-Key": withKey || key() } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      var type = r.headers.get("content-type") || "";
      var parsed = type.indexOf("application/json") === 0 ? r.json() : r.text();
      return parsed.then(function (data) {
        if (!r.ok) {
          var err = new Error((data && data.error && data.error.message) || ("HTTP " + r.status));
          err.status = r.status;
          if (r.status === 401 && !withKey) { signOut("Your key is no longer accepted. Sign in again."); }
          throw err;
        }
        return data;
      });
    });
  }
  function keyError(message) {
    var box = document.getElementById("key-error"), input = document.getElementById("agent-key");
    box.textContent = message || "";
    box.hidden = !message;
    if (message) { input.setAttribute("aria-invalid", "true"); input.focus(); } else { input.removeAttribute("aria-invalid"); }
  }
  function signOut(message) {
    try { sessionStorage.removeItem(STORE); } catch (e) { /* nothing stored */ }
    show();
    keyError(message);
  }
  function show() {
    var box = document.getElementById("keybox"), app = document.getElementById("app");
    if (key()) {
      box.hidden = true;
      app.hidden = false;
      if (!started) { started = true; ready.forEach(function (fn) { fn(); }); }
    } else {
      box.hidden = false;
      app.hidden = true;
    }
  }
  window.Agent = {
    el: el, get: function (p) { return request("GET", p); }, post: function (p, b) { return request("POST", p, b); },
    key: key, onReady: function (fn) { ready.push(fn); },
    when: function (iso) { return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : ""; },
    channel: function (value) { return BRANDS[value] || String(value || "none"); },
    vocab: function () {
      var node = document.getElementById("agent-vocab");
      return node ? JSON.parse(node.textContent) : { statuses: [], channels: [], tags: [] };
    }
  };
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("keybox"), submit = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var value = document.getElementById("agent-key").value.trim();
      if (!value) { keyError("Paste your agent API key."); return; }
      submit.disabled = true;
      // Check the key before opening the page, so a wrong one says so instead of showing this box again.
      request("GET", "/v1/tickets?limit=1", undefined, value).then(function () {
        try { sessionStorage.setItem(STORE, value); } catch (err) { /* private mode: works until reload */ }
        keyError("");
        if (started) { location.reload(); } else { show(); }
      }, function (err) {
        keyError(err.status === 401 ? "That key was not accepted. Check that you copied all of it (it starts with dfk_)."
          : err.status === 403 ? "That key cannot open agent pages. Use an agent or admin key, not the public one."
          : "Could not check the key: " + err.message);
      }).then(function () { submit.disabled = false; });
    });
    show();
  });
})();
