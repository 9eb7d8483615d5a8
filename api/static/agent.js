/* Agent pages: the agent's key (kept in this tab's sessionStorage only) and small DOM/API helpers. */
(function () {
  "use strict";
  var STORE = "deflect-agent-key";
  var ready = [];
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function key() { try { return sessionStorage.getItem(STORE); } catch (e) { return null; } }
  function request(method, path, body) {
    var init = { method: method, headers: { "X-API-Key": key() } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      if (r.status === 401) { signOut(); }
      var type = r.headers.get("content-type") || "";
      var parsed = type.indexOf("application/json") === 0 ? r.json() : r.text();
      return parsed.then(function (data) {
        if (!r.ok) {
          var err = new Error((data && data.error && data.error.message) || ("HTTP " + r.status));
          err.status = r.status;
          throw err;
        }
        return data;
      });
    });
  }
  function signOut() {
    try { sessionStorage.removeItem(STORE); } catch (e) { /* nothing stored */ }
    show();
  }
  function show() {
    var box = document.getElementById("keybox"), app = document.getElementById("app");
    if (key()) {
      box.hidden = true;
      app.hidden = false;
      ready.forEach(function (fn) { fn(); });
    } else {
      box.hidden = false;
      app.hidden = true;
    }
  }
  window.Agent = {
    el: el, get: function (p) { return request("GET", p); }, post: function (p, b) { return request("POST", p, b); },
    key: key, onReady: function (fn) { ready.push(fn); },
    when: function (iso) { return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : ""; }
  };
  document.addEventListener("DOMContentLoaded", function () {
    document.getElementById("keybox").addEventListener("submit", function (e) {
      e.preventDefault();
      var value = document.getElementById("agent-key").value.trim();
      if (!value) { return; }
      try { sessionStorage.setItem(STORE, value); } catch (err) { /* private mode: works until reload */ }
      show();
    });
    show();
  });
})();
