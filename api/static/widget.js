/* Deflect help-centre search widget, optionally with a floating launcher that adds the contact form.
   One file, no framework, no innerHTML from data. Embed (see the README's "Embed the widget"):
   <script src="https://HELP.HOST/static/widget.js" data-key="PUBLIC_KEY" data-locale="fr" async></script>
   Options: data-target="#search" (else right after the script), data-channel="amazon", data-launcher="true",
   data-article-url / data-results-url / data-contact-url (relative ones resolve against the help host). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.getAttribute("data-key")) { return; }
  var attr = function (name) { return script.getAttribute("data-" + name); };
  // A pause longer than typing (~300 ms) before asking; shorter queries carry too little meaning.
  var DEBOUNCE_MS = 300, MIN_CHARS = 3, CACHE_SIZE = 30;
  var key = attr("key"), channel = attr("channel") || null;
  var locale = (attr("locale") || navigator.language || "en").toLowerCase();
  var lang = locale.split("-")[0];
  var api = (attr("api") || new URL(script.src).origin).replace(/\/$/, "");
  var launcher = attr("launcher") === "true";
  var uid = "dfw" + Math.random().toString(36).slice(2, 8);
  var messages = {}, warned = false;
  function absolute(value, fallback) { return new URL(value || fallback, api + "/").href.replace(/%7B(\w+)%7D/g, "{$1}"); }
  var urls = {
    article: absolute(attr("article-url"), "/help/articles/{id}"),
    results: absolute(attr("results-url"), "/help/search?q={q}&lang={lang}"),
    contact: absolute(attr("contact-url"), "/contact?lang={lang}")
  };
  function link(template, params) {
    return template.replace(/\{(\w+)\}/g, function (m, name) {
      return params[name] === undefined ? m : encodeURIComponent(params[name]);
    });
  }

  // Translations from the help centre's catalog: embedded by its own pages, fetched on a seller's site.
  function fill(text, params) {
    return text.replace(/\{(\w+)\}/g, function (m, name) { return params && name in params ? String(params[name]) : m; });
  }
  function _(msg, params) { return fill(typeof messages[msg] === "string" ? messages[msg] : msg, params); }
  function pgettext(ctx, msg) { var s = messages[ctx + "\u0004" + msg]; return typeof s === "string" ? s : msg; }
  function ngettext(one, other, n) {
    var forms = messages[one], which = new Intl.PluralRules(lang).select(n) === "one" ? 0 : 1;
    return fill(Array.isArray(forms) ? forms[which] : (which ? other : one), { n: n });
  }
  function loadMessages(done) {
    var embedded = document.getElementById("deflect-i18n");
    if (embedded && embedded.getAttribute("data-lang") === lang) { messages = JSON.parse(embedded.textContent); done(); return; }
    if (lang === "en") { done(); return; }
    fetch(api + "/i18n/" + encodeURIComponent(lang) + ".json").then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (data) { messages = data; }, function () { lang = "en"; }).then(done);
  }

  function sessionId() {
    var name = "deflect-session";
    try { var existing = sessionStorage.getItem(name); if (existing) { return existing; } } catch (e) { /* blocked */ }
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    var id = "s-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    try { sessionStorage.setItem(name, id); } catch (e) { /* a per-page id still groups this visit */ }
    return id;
  }
  var session = sessionId();

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function post(path, body, signal) {
    return fetch(api + path, { method: "POST", signal: signal, keepalive: path.indexOf("events") > 0,
      headers: { "Content-Type": "application/json", "X-API-Key": key }, body: JSON.stringify(body) });
  }
  function track(kind, extra) {
    var event = { session_id: session, kind: kind, source: "widget", channel: channel, locale: lang };
    for (var k in extra) { if (extra[k] !== undefined && extra[k] !== null) { event[k] = extra[k]; } }
    try { post("/v1/deflection/events", { events: [event] }).catch(function () { /* never disturb */ }); } catch (e) { /* idem */ }
  }

  // A cross-origin request the browser blocks reads as a network error. If the server answers a plain
  // no-cors probe, it is up, so this page's origin is not allowed: tell the seller how to allow it.
  function diagnose(response) {
    if (warned) { return; }
    var origin = location.origin;
    if (response && (response.status === 401 || response.status === 403)) {
      warned = true;
      console.warn("Deflect widget: the server refused data-key (HTTP " + response.status + "). Use the tenant's " +
                   "public key and allow this origin: deflect keys create --tenant TENANT --role public --origin " + origin);
      return;
    }
    if (response || origin === api) { return; }
    fetch(api + "/healthz", { mode: "no-cors" }).then(function () {
      if (warned) { return; }
      warned = true;
      console.warn("Deflect widget: requests from " + origin + " to " + api + " are blocked because " + origin +
                   " is not an allowed origin of this key's tenant. Allow it with `deflect keys create --tenant TENANT " +
                   "--role public --origin " + origin + "` or PUT " + api + "/v1/tenant/origins with an admin key " +
                   "(body: {\"origins\": [\"" + origin + "\"]}).");
    }, function () { /* the server is down: nothing the seller's settings can fix */ });
  }

  var CSS =
    ".dfw{--dfw-accent:#0f6e6e;position:relative;font:inherit;max-width:680px;margin:0 auto;text-align:left;color:#1d2630}" +
    ".dfw *{box-sizing:border-box}.dfw-label{display:block;font-weight:600;margin:0 0 .4em}" +
    ".dfw-input{width:100%;font:inherit;font-size:1.05em;padding:.8em 1em;border:1px solid #7b8794;border-radius:10px;" +
    "background:#fff;color:#1d2630}.dfw-input:focus{outline:3px solid #7cc3c3;border-color:var(--dfw-accent)}" +
    ".dfw-status{min-height:1.3em;font-size:.9em;color:#4a5663;margin:.35em .2em}.dfw-status a{color:inherit;font-weight:600}" +
    ".dfw-list{list-style:none;margin:0;padding:.3em;border:1px solid #d5dde5;border-radius:10px;background:#fff;" +
    "box-shadow:0 8px 24px rgba(16,24,40,.12)}.dfw-option{padding:.65em .8em;border-radius:8px;cursor:pointer}" +
    ".dfw-option[aria-selected=true],.dfw-option:hover{background:#eef6f6}" +
    ".dfw-option[aria-selected=true]{box-shadow:inset 3px 0 0 var(--dfw-accent)}" +
    ".dfw-title{font-weight:600;display:block;margin-bottom:.2em}.dfw-snippet{font-size:.9em;color:#4a5663;display:block;line-height:1.4}" +
    ".dfw mark{background:#fff1a8;color:inherit;border-radius:2px;padding:0 1px}" +
    ".dfw-panel{margin-top:.6em;padding:1em;border:1px solid #d5dde5;border-radius:10px;background:#fbfdfd}" +
    ".dfw-panel h3{margin:0 0 .4em;font-size:1.05em}.dfw-panel p{margin:0 0 .7em;color:#4a5663}" +
    ".dfw a{color:var(--dfw-accent)}.dfw-open{font-weight:600}" +
    ".dfw-vote{display:flex;gap:.5em;align-items:center;flex-wrap:wrap;margin-top:.8em;font-size:.9em}" +
    ".dfw button{font:inherit;padding:.35em .9em;border-radius:999px;border:1px solid #7b8794;background:#fff;color:#1d2630;cursor:pointer}" +
    ".dfw button:hover,.dfw button:focus{border-color:var(--dfw-accent);color:var(--dfw-accent)}" +
    ".dfw .dfw-fab{position:fixed;right:16px;bottom:16px;z-index:2147483000;font:inherit;font-weight:700;border:0;border-radius:999px;" +
    "padding:.8em 1.3em;background:#0f6e6e;color:#fff;box-shadow:0 6px 20px rgba(16,24,40,.25);cursor:pointer}" +
    ".dfw-dialog{position:fixed;right:16px;bottom:76px;z-index:2147483000;width:min(420px,calc(100vw - 32px));" +
    "max-height:calc(100vh - 100px);overflow:auto;background:#fff;border:1px solid #d5dde5;border-radius:14px;padding:1em;" +
    "box-shadow:0 12px 40px rgba(16,24,40,.25)}.dfw-dialog[hidden],.dfw [hidden]{display:none}" +
    ".dfw-head{display:flex;justify-content:space-between;align-items:center;margin-bottom:.6em}.dfw-head h2{margin:0;font-size:1.1em}" +
    ".dfw-form label{display:block;font-weight:600;margin:.7em 0 .3em}.dfw-form select,.dfw-form textarea,.dfw-form input" +
    "{width:100%;font:inherit;padding:.5em .7em;border:1px solid #7b8794;border-radius:8px;background:#fff;color:#1d2630}" +
    ".dfw-error{color:#b42318;font-size:.9em;margin:.3em 0 0}.dfw-form .dfw-label{margin-top:.8em}.dfw-form .dfw-send{margin-top:.8em;background:#0f6e6e;color:#fff;border:0}";

  function build(host) {
    var root = el("div", "dfw");
    root.setAttribute("role", "search");
    root.setAttribute("lang", lang);
    var label = el("label", "dfw-label", _("Search our help centre"));
    label.htmlFor = uid + "-input";
    var input = el("input", "dfw-input");
    input.id = uid + "-input";
    input.type = "text";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.placeholder = _("Describe your question, e.g. where is my parcel");
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", uid + "-list");
    var status = el("div", "dfw-status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var list = el("ul", "dfw-list");
    list.id = uid + "-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", _("Search our help centre"));
    list.hidden = true;
    var panel = el("div", "dfw-panel");
    panel.setAttribute("aria-live", "polite");
    panel.hidden = true;
    [label, input, status, list, panel].forEach(function (node) { root.appendChild(node); });
    host.appendChild(root);

    var results = [], active = -1, timer = null, inflight = null, lastQuery = "", cache = new Map();

    // Whole words only: a query word marks the words of the text that start with it, never the middle of one.
    function highlighted(container, text, query) {
      var words = query.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(function (w) { return w.length > 2; });
      var pos = 0;
      text.replace(/[\p{L}\p{N}]+/gu, function (word, at) {
        var lower = word.toLowerCase();
        if (!words.some(function (w) { return lower === w || (w.length > 3 && lower.indexOf(w) === 0); })) { return word; }
        container.appendChild(document.createTextNode(text.slice(pos, at)));
        container.appendChild(el("mark", null, word));
        pos = at + word.length;
        return word;
      });
      container.appendChild(document.createTextNode(text.slice(pos)));
    }
    // Snippets are cut from markdown: show its text, not its syntax.
    function plain(text) {
      return text.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/\\([\\`*_{}[\]()#+\-.!|])/g, "$1")
        .replace(/(^|\s)(?:[-+*]|\d+[.)])\s+/g, "$1").replace(/\|?\s*:?-{3,}:?\s*/g, " ").replace(/\s*\|\s*/g, " · ")
        .replace(/[*_`#>]+/g, "").replace(/\s+/g, " ").replace(/\s[-+*]\s*…$/, "…")
        .replace(/^(\s*·)+\s*|(\s*·)+\s*$/g, "").trim();
    }
    function hrefFor(item) { return link(urls.article, { id: item.id, lang: lang }); }
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }
    function clear() { list.textContent = ""; results = []; close(); }
    function setActive(index) {
      var options = list.children;
      if (!options.length) { return; }
      active = (index + options.length) % options.length;
      for (var i = 0; i < options.length; i++) { options[i].setAttribute("aria-selected", String(i === active)); }
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }
    function contactLink() {
      var a = el("a", null, _("Contact us"));
      a.href = link(urls.contact, { lang: lang });
      if (launcher) { a.addEventListener("click", function (e) { e.preventDefault(); openContact(input.value.trim()); }); }
      return a;
    }
    function render(query, data) {
      list.textContent = "";
      panel.hidden = true;
      results = data.abstained ? [] : data.suggestions;
      if (!results.length) {
        close();
        status.textContent = _("No article matches yet. Try other words.") + " ";
        status.appendChild(contactLink());
        return;
      }
      results.forEach(function (item, i) {
        var li = el("li", "dfw-option");
        li.id = uid + "-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        var title = el("span", "dfw-title"), snippet = el("span", "dfw-snippet");
        highlighted(title, item.title, query);
        highlighted(snippet, plain(item.snippet), query);
        li.appendChild(title);
        li.appendChild(snippet);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); });
        li.addEventListener("click", function () { choose(i); });
        list.appendChild(li);
      });
      // A late answer does not pop open over whatever the shopper moved on to.
      if (document.activeElement === input) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
      status.textContent = ngettext("{n} suggested article", "{n} suggested articles", results.length);
      track("impression", { query: query, article_id: results[0].id, topic: (results[0].tags || [])[0],
                            article_ids: results.map(function (item) { return item.id; }) });
    }
    function choose(index) {
      var item = results[index];
      if (!item) { return; }
      close();
      track("click", { query: lastQuery, article_id: item.id, topic: (item.tags || [])[0] });
      panel.textContent = "";
      panel.appendChild(el("h3", null, item.title));
      panel.appendChild(el("p", null, plain(item.snippet)));
      var open = el("a", "dfw-open", _("Read the full article") + " →");
      open.href = hrefFor(item);
      panel.appendChild(open);
      var vote = el("div", "dfw-vote");
      vote.appendChild(el("span", null, _("Did this answer your question?")));
      [["helpful", _("Yes")], ["not_helpful", _("No")]].forEach(function (pair) {
        var button = el("button", null, pair[1]);
        button.type = "button";
        button.setAttribute("data-vote", pair[0]);
        button.addEventListener("click", function () {
          track(pair[0], { query: lastQuery, article_id: item.id });
          vote.textContent = "";
          if (pair[0] === "helpful") { vote.appendChild(el("span", null, _("Thanks for your feedback!"))); return; }
          vote.appendChild(el("span", null, _("Sorry about that. Try other words or contact us.") + " "));
          vote.appendChild(contactLink());
        });
        vote.appendChild(button);
      });
      panel.appendChild(vote);
      panel.hidden = false;
      status.textContent = "";
    }
    function search(query) {
      if (inflight) { inflight.abort(); inflight = null; }
      lastQuery = query;
      var known = cache.get(query.toLowerCase());
      if (known) { render(query, known); return; }  // never ask twice for the same text
      var controller = new AbortController();
      inflight = controller;
      status.textContent = _("Searching…");
      post("/v1/suggest", { query: query, channel: channel, locale: locale, top_k: 5 }, controller.signal)
        .then(function (response) {
          if (!response.ok) { diagnose(response); throw new Error("HTTP " + response.status); }
          return response.json();
        }).then(function (data) {
          cache.set(query.toLowerCase(), data);
          if (cache.size > CACHE_SIZE) { cache.delete(cache.keys().next().value); }
          if (controller !== inflight) { return; }
          inflight = null;
          render(query, data);
        }).catch(function (error) {
          if (error && error.name === "AbortError") { return; }
          if (controller === inflight) { inflight = null; }
          if (error instanceof TypeError) { diagnose(null); }
          clear();
          status.textContent = _("Search is unavailable right now. You can still contact us.") + " ";
          status.appendChild(contactLink());
        });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var query = input.value.trim().replace(/\s+/g, " ");
      if (query.length < MIN_CHARS) {
        if (inflight) { inflight.abort(); inflight = null; }
        clear();
        lastQuery = "";
        status.textContent = "";
        return;
      }
      if (query === lastQuery) { return; }  // only spaces changed
      timer = setTimeout(function () { search(query); }, DEBOUNCE_MS);
    });
    input.addEventListener("keydown", function (e) {
      var open = !list.hidden && results.length > 0;
      if (e.key === "ArrowDown") {
        e.preventDefault();
        if (!open && results.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
        setActive(active + 1);
      } else if (e.key === "ArrowUp") {
        e.preventDefault();
        if (open) { setActive(active - 1); }
      } else if (e.key === "Enter") {
        e.preventDefault();
        if (open && active >= 0) { choose(active); return; }
        var query = input.value.trim();
        if (query) { location.href = link(urls.results, { q: query, lang: lang }); }
      } else if (e.key === "Escape") {
        if (open) { close(); } else { input.value = ""; status.textContent = ""; panel.hidden = true; }
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    return input;
  }

  // The launcher's second step: the conditional contact form (answers for the topic first, then send).
  var contactForm = null;
  function openContact(message) {
    if (contactForm) { contactForm.hidden = false; contactForm.querySelector("select").focus(); return; }
    var form = el("form", "dfw-form"), submissionId = session.slice(2, 14) + "-" + Date.now().toString(36);
    form.noValidate = true;
    form.appendChild(el("h3", null, _("Still need help?")));
    function field(tag, id, text) {
      var l = el("label", null, text), f = el(tag), err = el("p", "dfw-error");
      l.htmlFor = f.id = uid + "-" + id;
      err.id = f.id + "-error";
      err.hidden = true;
      f.setAttribute("aria-describedby", err.id);
      form.appendChild(l);
      form.appendChild(f);
      form.appendChild(err);
      return f;
    }
    var topic = field("select", "topic", _("Topic"));
    [["", _("Choose a topic…")], ["tracking", _("Where is my order?")], ["return", _("Returning an item")],
     ["refund", _("My refund")], ["damaged", _("Damaged or missing item")], ["cancellation", _("Cancelling an order")],
     ["product_question", _("Question about a product")], ["other", _("Something else")]].forEach(function (o) {
      var opt = el("option", null, o[1]);
      opt.value = o[0];
      topic.appendChild(opt);
    });
    var text = field("textarea", "message", _("Your message"));
    text.rows = 4;
    text.value = message || "";
    var email = field("input", "email", _("E-mail"));
    email.type = "email";
    email.autocomplete = "email";
    var answersHead = el("p", "dfw-label", _("Answers for you")), answers = el("ul", "dfw-list");
    answersHead.id = uid + "-answers";
    answersHead.hidden = answers.hidden = true;
    answers.setAttribute("aria-labelledby", answersHead.id);
    form.appendChild(answersHead);
    form.appendChild(answers);
    var status = el("div", "dfw-status");
    status.setAttribute("role", "status");
    var send = el("button", "dfw-send", _("I still need help"));
    send.type = "submit";
    form.appendChild(send);
    form.appendChild(status);
    var pending = null;
    function suggestFor() {
      if (!topic.value) { return; }
      if (pending) { pending.abort(); }
      pending = new AbortController();
      post("/v1/contact-form/suggest", { topic: topic.value, message: text.value.trim(), channel: channel, locale: lang },
           pending.signal).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        answers.textContent = "";
        answers.hidden = answersHead.hidden = !(data && data.suggestions.length);
        (data ? data.suggestions : []).forEach(function (s) {
          var li = el("li", "dfw-option"), a = el("a", "dfw-title", s.title);
          a.href = link(urls.article, { id: s.id, lang: lang });
          a.target = "_blank";
          a.rel = "noopener";
          li.appendChild(a);
          answers.appendChild(li);
        });
      }, function () { /* answers are a help, never a blocker */ });
    }
    var wait = null;
    topic.addEventListener("change", suggestFor);
    text.addEventListener("input", function () { clearTimeout(wait); wait = setTimeout(suggestFor, DEBOUNCE_MS); });
    function check(f, bad, msg) {
      var err = document.getElementById(f.id + "-error");
      err.hidden = !bad;
      err.textContent = bad ? msg : "";
      if (bad) { f.setAttribute("aria-invalid", "true"); } else { f.removeAttribute("aria-invalid"); }
      return bad ? f : null;
    }
    function validate() {
      return [check(topic, !topic.value, _("Choose a topic.")),
              check(text, text.value.trim().length < 10, _("Write a few words about your issue (at least 10 characters).")),
              check(email, !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.value.trim()),
                    email.value.trim() ? _("This e-mail address looks incomplete, e.g. name@example.com.")
                                       : _("Enter your e-mail address so we can reply."))].filter(Boolean);
    }
    // Once flagged, messages follow the fields as they are corrected.
    form.addEventListener("input", function () { if (form.querySelector("[aria-invalid]")) { validate(); } });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (send.disabled) { return; }
      var bad = validate();
      if (bad.length) { bad[0].focus(); return; }
      send.disabled = true;
      post("/v1/contact-form/submit", { submission_id: submissionId, session_id: session, topic: topic.value,
        message: text.value.trim(), email: email.value.trim(), channel: channel, locale: lang }).then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      }).then(function (data) {
        status.textContent = _("Thanks, we have your message (reference {ref}).", { ref: data.ticket_id });
        form.setAttribute("data-submitted", data.ticket_id);
      }, function (err) {
        send.disabled = false;
        status.textContent = _("We couldn't send your message just now ({error}). Please try again in a minute.",
                               { error: err.message });
      });
    });
    contactForm = form;
    document.getElementById(uid + "-body").appendChild(form);
    topic.focus();
  }

  function start() {
    var style = el("style");
    style.textContent = CSS;
    document.head.appendChild(style);
    if (!launcher) {
      var target = attr("target"), host = target ? document.querySelector(target) : null;
      if (!host) { host = el("div"); script.parentNode.insertBefore(host, script.nextSibling); }
      build(host);
      return;
    }
    var wrap = el("div", "dfw"), fab = el("button", "dfw-fab", _("Help")), dialog = el("div", "dfw-dialog");
    wrap.setAttribute("lang", lang);
    fab.type = "button";
    fab.setAttribute("aria-expanded", "false");
    fab.setAttribute("aria-controls", uid + "-dialog");
    dialog.id = uid + "-dialog";
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-labelledby", uid + "-heading");
    dialog.hidden = true;
    var head = el("div", "dfw-head"), heading = el("h2", null, _("How can we help?")), shut = el("button", null, _("Close"));
    heading.id = uid + "-heading";
    shut.type = "button";
    head.appendChild(heading);
    head.appendChild(shut);
    var body = el("div");
    body.id = uid + "-body";
    dialog.appendChild(head);
    dialog.appendChild(body);
    wrap.appendChild(dialog);
    wrap.appendChild(fab);
    document.body.appendChild(wrap);
    var input = build(body);
    var more = el("button", null, _("Still need help?"));
    more.type = "button";
    more.addEventListener("click", function () { more.hidden = true; openContact(input.value.trim()); });
    body.appendChild(more);
    function toggle(open) {
      dialog.hidden = !open;
      fab.setAttribute("aria-expanded", String(open));
      if (open) { input.focus(); } else { fab.focus(); }
    }
    fab.addEventListener("click", function () { toggle(dialog.hidden); });
    shut.addEventListener("click", function () { toggle(false); });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !dialog.hidden && e.target !== input) { toggle(false); }
    });
  }
  // The help centre's own pages embed the catalog after this script: read it once the page is parsed.
  function boot() { loadMessages(start); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", boot); } else { boot(); }
})();
