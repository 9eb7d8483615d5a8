/* Deflect help-centre search widget. One file, no framework, no innerHTML from data.
   <script src="https://HOST/static/widget.js" data-key="PUBLIC_KEY" data-channel="shopify" data-locale="fr"
           data-target="#search" data-article-url="/help/articles/{id}" async></script> */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.getAttribute("data-key")) { return; }

  var STRINGS = {
    en: { label: "Search our help centre", placeholder: "Describe your question, e.g. where is my parcel",
          results: "{n} suggested articles", none: "No article matches yet. Try other words.",
          down: "Search is unavailable right now. You can still contact us.", searching: "Searching…",
          helpful: "Did this answer your question?", yes: "Yes", no: "No", open: "Read the full article",
          thanks: "Thanks for your feedback!", sorry: "Sorry about that. Try other words or contact us." },
    fr: { label: "Rechercher dans notre centre d'aide", placeholder: "Décrivez votre question, ex. où est mon colis",
          results: "{n} articles suggérés", none: "Aucun article ne correspond. Essayez d'autres mots.",
          down: "La recherche est indisponible pour le moment. Vous pouvez toujours nous contacter.",
          searching: "Recherche…", helpful: "Cet article a-t-il répondu à votre question ?", yes: "Oui", no: "Non",
          open: "Lire l'article complet", thanks: "Merci pour votre retour !",
          sorry: "Désolé. Essayez d'autres mots ou contactez-nous." },
    de: { label: "Hilfe-Center durchsuchen", placeholder: "Beschreiben Sie Ihre Frage, z. B. wo ist mein Paket",
          results: "{n} vorgeschlagene Artikel", none: "Noch kein passender Artikel. Versuchen Sie andere Wörter.",
          down: "Die Suche ist gerade nicht verfügbar. Sie können uns trotzdem kontaktieren.",
          searching: "Suche…", helpful: "Hat das Ihre Frage beantwortet?", yes: "Ja", no: "Nein",
          open: "Ganzen Artikel lesen", thanks: "Danke für Ihr Feedback!",
          sorry: "Das tut uns leid. Versuchen Sie andere Wörter oder kontaktieren Sie uns." },
    es: { label: "Buscar en nuestro centro de ayuda", placeholder: "Describa su pregunta, p. ej. dónde está mi paquete",
          results: "{n} artículos sugeridos", none: "Ningún artículo coincide. Pruebe con otras palabras.",
          down: "La búsqueda no está disponible ahora. Puede contactarnos igualmente.",
          searching: "Buscando…", helpful: "¿Ha respondido esto a su pregunta?", yes: "Sí", no: "No",
          open: "Leer el artículo completo", thanks: "¡Gracias por su opinión!",
          sorry: "Lo sentimos. Pruebe con otras palabras o contáctenos." },
    it: { label: "Cerca nel nostro centro assistenza", placeholder: "Descrivi la tua domanda, es. dov'è il mio pacco",
          results: "{n} articoli suggeriti", none: "Nessun articolo corrisponde. Prova con altre parole.",
          down: "La ricerca non è disponibile al momento. Puoi comunque contattarci.",
          searching: "Ricerca…", helpful: "Questo ha risposto alla tua domanda?", yes: "Sì", no: "No",
          open: "Leggi l'articolo completo", thanks: "Grazie per il tuo feedback!",
          sorry: "Ci dispiace. Prova con altre parole o contattaci." }
  };
  var DEBOUNCE_MS = 200;
  var MIN_CHARS = 3;

  var key = script.getAttribute("data-key");
  var channel = script.getAttribute("data-channel") || null;
  var locale = (script.getAttribute("data-locale") || navigator.language || "en").toLowerCase();
  var lang = STRINGS[locale.split("-")[0]] ? locale.split("-")[0] : "en";
  var t = STRINGS[lang];
  var api = (script.getAttribute("data-api") || new URL(script.src).origin).replace(/\/$/, "");
  var articleUrl = script.getAttribute("data-article-url");
  var uid = "dfw" + Math.random().toString(36).slice(2, 8);

  function sessionId() {
    var name = "deflect-session";
    try {
      var existing = sessionStorage.getItem(name);
      if (existing) { return existing; }
    } catch (e) { /* storage blocked: a per-page id still groups this visit */ }
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    var id = "s-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    try { sessionStorage.setItem(name, id); } catch (e) { /* see above */ }
    return id;
  }
  var session = sessionId();

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function track(kind, extra) {
    var event = { session_id: session, kind: kind, source: "widget", channel: channel, locale: lang };
    for (var k in extra) { if (extra[k] !== undefined && extra[k] !== null) { event[k] = extra[k]; } }
    try {
      fetch(api + "/v1/deflection/events", {
        method: "POST", keepalive: true, headers: { "Content-Type": "application/json", "X-API-Key": key },
        body: JSON.stringify({ events: [event] })
      }).catch(function () { /* analytics never disturb the customer */ });
    } catch (e) { /* idem */ }
  }

  var style = el("style");
  style.textContent =
    ".dfw{--dfw-accent:#0f6e6e;position:relative;font:inherit;max-width:680px;margin:0 auto;text-align:left}" +
    ".dfw-label{display:block;font-weight:600;margin:0 0 .4em}" +
    ".dfw-input{box-sizing:border-box;width:100%;font:inherit;font-size:1.05em;padding:.8em 1em;border:1px solid #b8c2cc;" +
    "border-radius:10px;background:#fff;color:#1d2630;box-shadow:0 1px 2px rgba(0,0,0,.05)}" +
    ".dfw-input:focus{outline:3px solid color-mix(in srgb,var(--dfw-accent) 35%,transparent);border-color:var(--dfw-accent)}" +
    ".dfw-status{min-height:1.3em;font-size:.85em;color:#5b6875;margin:.35em .2em}" +
    ".dfw-list{list-style:none;margin:0;padding:.3em;border:1px solid #d5dde5;border-radius:10px;background:#fff;" +
    "box-shadow:0 8px 24px rgba(16,24,40,.12)}" +
    ".dfw-option{padding:.65em .8em;border-radius:8px;cursor:pointer;color:#1d2630}" +
    ".dfw-option[aria-selected=true],.dfw-option:hover{background:#eef6f6}" +
    ".dfw-option[aria-selected=true]{box-shadow:inset 3px 0 0 var(--dfw-accent)}" +
    ".dfw-title{font-weight:600;display:block;margin-bottom:.2em}" +
    ".dfw-snippet{font-size:.9em;color:#4a5663;display:block;line-height:1.4}" +
    ".dfw mark{background:#fff1a8;color:inherit;border-radius:2px;padding:0 1px}" +
    ".dfw-panel{margin-top:.6em;padding:1em;border:1px solid #d5dde5;border-radius:10px;background:#fbfdfd}" +
    ".dfw-panel h3{margin:0 0 .4em;font-size:1.05em}.dfw-panel p{margin:0 0 .7em;color:#4a5663}" +
    ".dfw-open{color:var(--dfw-accent);font-weight:600}" +
    ".dfw-vote{display:flex;gap:.5em;align-items:center;flex-wrap:wrap;margin-top:.8em;font-size:.9em}" +
    ".dfw-vote button{font:inherit;padding:.35em .9em;border-radius:999px;border:1px solid #b8c2cc;background:#fff;cursor:pointer}" +
    ".dfw-vote button:hover,.dfw-vote button:focus{border-color:var(--dfw-accent);color:var(--dfw-accent)}";
  document.head.appendChild(style);

  var root = el("div", "dfw");
  root.setAttribute("role", "search");
  root.setAttribute("lang", lang);
  var label = el("label", "dfw-label", t.label);
  label.htmlFor = uid + "-input";
  var input = el("input", "dfw-input");
  input.id = uid + "-input";
  input.type = "text";
  input.autocomplete = "off";
  input.spellcheck = false;
  input.placeholder = t.placeholder;
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
  list.setAttribute("aria-label", t.label);
  list.hidden = true;
  var panel = el("div", "dfw-panel");
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-live", "polite");
  panel.hidden = true;
  root.appendChild(label);
  root.appendChild(input);
  root.appendChild(status);
  root.appendChild(list);
  root.appendChild(panel);
  var target = script.getAttribute("data-target");
  var host = target ? document.querySelector(target) : null;
  if (host) { host.appendChild(root); } else { script.parentNode.insertBefore(root, script.nextSibling); }

  var results = [];
  var active = -1;
  var timer = null;
  var inflight = null;
  var lastQuery = "";

  // Python counts code points, JavaScript counts UTF-16 units: Array.from walks code points.
  function highlighted(container, text, spans) {
    var chars = Array.from(text);
    var pos = 0;
    spans.slice().sort(function (a, b) { return a[0] - b[0]; }).forEach(function (span) {
      var start = Math.max(span[0], pos), end = Math.min(span[1], chars.length);
      if (end <= start) { return; }
      container.appendChild(document.createTextNode(chars.slice(pos, start).join("")));
      container.appendChild(el("mark", null, chars.slice(start, end).join("")));
      pos = end;
    });
    container.appendChild(document.createTextNode(chars.slice(pos).join("")));
  }

  function titleSpans(title, query) {
    var words = query.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(function (w) { return w.length > 2; });
    var chars = Array.from(title), lower = Array.from(title.toLowerCase()), spans = [];
    if (lower.length !== chars.length) { return spans; }
    var text = lower.join("");
    words.forEach(function (w) {
      var from = 0, i;
      while ((i = text.indexOf(w, from)) !== -1) {
        var start = Array.from(text.slice(0, i)).length;
        spans.push([start, start + Array.from(w).length]);
        from = i + w.length;
      }
    });
    return spans.sort(function (a, b) { return a[0] - b[0]; })
      .filter(function (s, i, all) { return i === 0 || s[0] >= all[i - 1][1]; });
  }

  function hrefFor(item) {
    if (articleUrl) { return articleUrl.replace("{id}", encodeURIComponent(item.id)); }
    return item.url && /^https?:\/\//i.test(item.url) ? item.url : null;
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function setActive(index) {
    var options = list.children;
    if (!options.length) { return; }
    active = (index + options.length) % options.length;
    for (var i = 0; i < options.length; i++) { options[i].setAttribute("aria-selected", String(i === active)); }
    input.setAttribute("aria-activedescendant", options[active].id);
    options[active].scrollIntoView({ block: "nearest" });
  }

  function render(query, data) {
    list.textContent = "";
    panel.hidden = true;
    results = data.abstained ? [] : data.suggestions;
    if (!results.length) {
      close();
      status.textContent = t.none;
      return;
    }
    results.forEach(function (item, i) {
      var li = el("li", "dfw-option");
      li.id = uid + "-opt-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      var title = el("span", "dfw-title");
      highlighted(title, item.title, titleSpans(item.title, query));
      var snippet = el("span", "dfw-snippet");
      highlighted(snippet, item.snippet, item.highlights || []);
      li.appendChild(title);
      li.appendChild(snippet);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); });
      li.addEventListener("click", function () { choose(i); });
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    status.textContent = t.results.replace("{n}", results.length);
    track("impression", { query: query, article_id: results[0].id, topic: (results[0].tags || [])[0],
                          article_ids: results.map(function (item) { return item.id; }) });
  }

  function choose(index) {
    var item = results[index];
    if (!item) { return; }
    close();
    track("click", { query: lastQuery, article_id: item.id, topic: (item.tags || [])[0] });
    panel.textContent = "";
    var heading = el("h3", null, item.title);
    var text = el("p", null, item.snippet);
    panel.appendChild(heading);
    panel.appendChild(text);
    var href = hrefFor(item);
    if (href) {
      var link = el("a", "dfw-open", t.open + " →");
      link.href = href;
      panel.appendChild(link);
    }
    var vote = el("div", "dfw-vote");
    vote.appendChild(el("span", null, t.helpful));
    [["helpful", t.yes], ["not_helpful", t.no]].forEach(function (pair) {
      var button = el("button", null, pair[1]);
      button.type = "button";
      button.setAttribute("data-vote", pair[0]);
      button.addEventListener("click", function () {
        track(pair[0], { query: lastQuery, article_id: item.id });
        vote.textContent = "";
        vote.appendChild(el("span", null, pair[0] === "helpful" ? t.thanks : t.sorry));
      });
      vote.appendChild(button);
    });
    panel.appendChild(vote);
    panel.hidden = false;
    status.textContent = "";
  }

  function search(query) {
    if (inflight) { inflight.abort(); }
    var controller = new AbortController();
    inflight = controller;
    lastQuery = query;
    status.textContent = t.searching;
    var started = performance.now();
    fetch(api + "/v1/suggest", {
      method: "POST", signal: controller.signal,
      headers: { "Content-Type": "application/json", "X-API-Key": key },
      body: JSON.stringify({ query: query, channel: channel, locale: locale, top_k: 5 })
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (data) {
      if (controller !== inflight) { return; }
      inflight = null;
      root.setAttribute("data-last-latency-ms", String(Math.round(performance.now() - started)));
      render(query, data);
    }).catch(function (error) {
      if (error && error.name === "AbortError") { return; }
      if (controller === inflight) { inflight = null; }
      list.textContent = "";
      results = [];
      close();
      status.textContent = t.down;
    });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    var query = input.value.trim();
    if (query.length < MIN_CHARS) {
      if (inflight) { inflight.abort(); inflight = null; }
      list.textContent = "";
      results = [];
      close();
      status.textContent = "";
      return;
    }
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
      if (open && active >= 0) { e.preventDefault(); choose(active); }
    } else if (e.key === "Escape") {
      if (open) { close(); } else { input.value = ""; status.textContent = ""; panel.hidden = true; }
    }
  });

  input.addEventListener("blur", function () { setTimeout(close, 150); });
})();
