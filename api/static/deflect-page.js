/* Shared by the help-centre pages: the page's public key, the visit's session id, and event posting. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="deflect-key"]');
  function sessionId() {
    var name = "deflect-session", id = null;
    try { id = sessionStorage.getItem(name); } catch (e) { /* storage blocked */ }
    if (id) { return id; }
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    id = "s-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    try { sessionStorage.setItem(name, id); } catch (e) { /* idem */ }
    return id;
  }
  var key = meta ? meta.getAttribute("content") : null;
  var session = sessionId();
  // The page's strings in its language, from api/page_text.py (embedded by the server as JSON).
  var stringsNode = document.getElementById("deflect-strings");
  var strings = stringsNode ? JSON.parse(stringsNode.textContent) : {};
  window.Deflect = {
    key: key,
    session: session,
    t: function (name, params) {
      var out = strings[name] || name;
      Object.keys(params || {}).forEach(function (p) { out = out.split("{" + p + "}").join(String(params[p])); });
      return out;
    },
    status: function (value) {
      return strings["status." + value] || String(value).replace(/_/g, " ");
    },
    api: function (path, body) {
      return fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-API-Key": key },
                           body: JSON.stringify(body) });
    },
    track: function (kind, fields) {
      var event = { session_id: session, kind: kind };
      Object.keys(fields || {}).forEach(function (k) { if (fields[k]) { event[k] = fields[k]; } });
      return window.Deflect.api("/v1/deflection/events", { events: [event] }).catch(function () { return null; });
    },
    el: function (tag, cls, text) {
      var node = document.createElement(tag);
      if (cls) { node.className = cls; }
      if (text !== undefined && text !== null) { node.textContent = text; }
      return node;
    }
  };
})();
