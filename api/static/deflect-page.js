/* Shared by the help-centre pages: the page's public key, the visit's session id, event posting, and the
   page's translations (the Babel catalog of api/locales, embedded by the server as JSON). */
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
  var lang = document.documentElement.lang || "en";
  var node = document.getElementById("deflect-i18n");
  var messages = node ? JSON.parse(node.textContent) : {};
  var plural = new Intl.PluralRules(lang);
  function fill(text, params) {
    return text.replace(/\{(\w+)\}/g, function (m, name) { return params && name in params ? String(params[name]) : m; });
  }
  window.Deflect = {
    key: key,
    session: session,
    lang: lang,
    // Named as gettext's functions so that pybabel extracts the scripts' messages into the catalog.
    _: function (msg, params) { return fill(typeof messages[msg] === "string" ? messages[msg] : msg, params); },
    pgettext: function (ctx, msg, params) {
      var text = messages[ctx + "\u0004" + msg];
      return fill(typeof text === "string" ? text : msg, params);
    },
    // For EN/FR/DE/ES/IT, CLDR's "one" is gettext's first plural form and everything else the second.
    ngettext: function (one, other, n, params) {
      var forms = messages[one], second = plural.select(n) !== "one";
      var text = Array.isArray(forms) ? forms[second ? 1 : 0] : (second ? other : one);
      return fill(text, Object.assign({ n: n }, params || {}));
    },
    date: function (iso, withYear) {
      var options = { day: "numeric", month: "long" };
      if (withYear) { options.year = "numeric"; }
      return iso ? new Date(iso).toLocaleDateString(lang, options) : "";
    },
    // Snippets are cut from markdown: their text without its syntax (as the widget shows them).
    plain: function (text) {
      return text.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/\\([\\`*_{}[\]()#+\-.!|])/g, "$1")
        .replace(/(^|\s)(?:[-+*]|\d+[.)])\s+/g, "$1").replace(/\|?\s*:?-{3,}:?\s*/g, " ").replace(/\s*\|\s*/g, " · ")
        .replace(/[*_`#>]+/g, "").replace(/\s+/g, " ").replace(/\s[-+*]\s*…$/, "…")
        .replace(/^(\s*·)+\s*|(\s*·)+\s*$/g, "").trim();
    },
    // Marks the words of `text` that a word of `query` starts (whole words, never the middle of one).
    highlight: function (container, text, query) {
      var words = query.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(function (w) { return w.length > 2; });
      var pos = 0;
      text.replace(/[\p{L}\p{N}]+/gu, function (word, at) {
        var lower = word.toLowerCase();
        if (!words.some(function (w) { return lower === w || (w.length > 3 && lower.indexOf(w) === 0); })) { return word; }
        container.appendChild(document.createTextNode(text.slice(pos, at)));
        container.appendChild(window.Deflect.el("mark", null, word));
        pos = at + word.length;
        return word;
      });
      container.appendChild(document.createTextNode(text.slice(pos)));
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
