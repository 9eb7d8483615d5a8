/* Reports page: deflection (final and provisional), contact reasons with root causes, macros, content gaps
   and the KB audit. Charts are HTML bars (readable at any width, text that zooms, a name for each bar). */
(function () {
  "use strict";
  var A = window.Agent;
  var el = A.el;
  var PARTS = [["deflected", "deflected"], ["contacted", "contacted anyway"], ["pending", "still open"]];

  function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 1000) / 10 + " %"; }
  function words(value) { return String(value).replace(/_/g, " "); }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function topicName(key) { return key === "(none)" ? "no topic (search only)" : words(key); }
  function channelName(key) { return key === "(none)" ? "channel not given" : A.channel(key); }
  function seconds(s) { return s === null || s === undefined ? "–" : s < 90 ? Math.round(s) + " s" : Math.round(s / 60) + " min"; }

  function section(app, id, title, intro) {
    var s = el("section", "card report");
    s.id = id;
    s.setAttribute("aria-labelledby", id + "-title");
    var h = el("h2", null, title);
    h.id = id + "-title";
    s.appendChild(h);
    if (intro) { s.appendChild(el("p", "muted", intro)); }
    app.appendChild(s);
    return s;
  }
  function loading(box, text) { var p = el("p", "muted loading", text); box.appendChild(p); return p; }
  function failed(box, what, err) { box.appendChild(el("p", "notice bad", what + " could not load: " + err.message)); }

  function kpi(value, label, id) {
    var k = el("div", "card kpi");
    if (id) { k.id = id; }
    k.appendChild(el("div", "value", value));
    k.appendChild(el("div", "label", label));
    return k;
  }

  // One row per key: a stacked bar of deflected / contacted / open sessions, with the numbers in words.
  function stackedRows(rows, nameOf) {
    var list = el("ul", "bars");
    var max = Math.max.apply(null, rows.map(function (r) { return r.sessions; }).concat([1]));
    rows.forEach(function (r) {
      var li = el("li");
      li.appendChild(el("span", "bar-label", nameOf(r.key)));
      var bar = el("span", "bar");
      var said = PARTS.map(function (p) { return r[p[0]] + " " + p[1]; }).join(", ");
      bar.setAttribute("role", "img");
      bar.setAttribute("aria-label", nameOf(r.key) + ": " + plural(r.sessions, "session", "sessions") + ", " + said);
      PARTS.forEach(function (p) {
        if (!r[p[0]]) { return; }
        var seg = el("span", "seg " + p[0]);
        seg.style.width = (100 * r[p[0]] / max) + "%";
        bar.appendChild(seg);
      });
      li.appendChild(bar);
      li.appendChild(el("span", "bar-value", plural(r.sessions, "session", "sessions") + " · " +
        (r.deflection_rate === null ? "no closed window yet" : pct(r.deflection_rate) + " deflected")));
      list.appendChild(li);
    });
    if (!rows.length) { list.appendChild(el("li", "muted", "No sessions in this period yet.")); }
    return list;
  }

  function legend() {
    var p = el("p", "legend muted");
    PARTS.forEach(function (part) {
      var item = el("span", "key");
      item.appendChild(el("span", "swatch " + part[0]));
      item.appendChild(document.createTextNode(part[1]));
      p.appendChild(item);
    });
    return p;
  }

  function columns(rows) {
    var wrap = el("div", "columns");
    var max = Math.max.apply(null, rows.map(function (r) { return r.sessions; }).concat([1]));
    var every = Math.max(1, Math.ceil(rows.length / 8));
    rows.forEach(function (r, i) {
      var col = el("div", "col");
      var stack = el("div", "stack");
      stack.setAttribute("role", "img");
      stack.setAttribute("aria-label", r.key + ": " + plural(r.sessions, "session", "sessions") + ", " +
        PARTS.map(function (p) { return r[p[0]] + " " + p[1]; }).join(", "));
      PARTS.forEach(function (p) {
        if (!r[p[0]]) { return; }
        var seg = el("span", "seg " + p[0]);
        seg.style.height = (100 * r[p[0]] / max) + "%";
        stack.appendChild(seg);
      });
      col.appendChild(stack);
      col.appendChild(el("span", "tick", i % every === 0 ? r.key.slice(5) : ""));
      wrap.appendChild(col);
    });
    if (!rows.length) { wrap.appendChild(el("p", "muted", "No sessions in this period yet.")); }
    return wrap;
  }

  function simpleRows(rows) {
    var list = el("ul", "bars simple");
    var max = Math.max.apply(null, rows.map(function (r) { return r.value; }).concat([1e-9]));
    rows.forEach(function (r) {
      var li = el("li");
      li.appendChild(el("span", "bar-label", r.label));
      var bar = el("span", "bar");
      bar.setAttribute("role", "img");
      bar.setAttribute("aria-label", r.label + ": " + r.text);
      var seg = el("span", "seg single");
      seg.style.width = Math.max(1, 100 * r.value / max) + "%";
      bar.appendChild(seg);
      li.appendChild(bar);
      li.appendChild(el("span", "bar-value", r.text));
      list.appendChild(li);
    });
    return list;
  }

  // A table that becomes one card per row on a phone (each cell names its column).
  function table(caption, headers, rows) {
    var t = el("table", "data stack-on-phone");
    t.appendChild(el("caption", "sr-only", caption));
    var head = el("tr");
    headers.forEach(function (h) { var th = el("th", null, h); th.scope = "col"; head.appendChild(th); });
    var thead = el("thead");
    thead.appendChild(head);
    t.appendChild(thead);
    var body = el("tbody");
    rows.forEach(function (cells) {
      var tr = el("tr");
      cells.forEach(function (c, i) {
        var td = el(i === 0 ? "th" : "td");
        if (i === 0) { td.scope = "row"; }
        td.setAttribute("data-label", headers[i]);
        if (c instanceof Node) { td.appendChild(c); } else { td.textContent = c; }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    t.appendChild(body);
    return t;
  }

  function deflection(box, bucket) {
    box.textContent = "";
    var bar = el("div", "toolbar");
    var label = el("label", null, "Group over time by");
    label.htmlFor = "bucket";
    var choose = el("select");
    choose.id = "bucket";
    [["day", "day"], ["week", "week"]].forEach(function (o) {
      var opt = el("option", null, o[1]);
      opt.value = o[0];
      opt.selected = o[0] === bucket;
      choose.appendChild(opt);
    });
    choose.addEventListener("change", function () { deflection(box, choose.value); });
    var csv = el("button", "button secondary", "Export CSV");
    csv.type = "button";
    csv.addEventListener("click", function () {
      A.get("/v1/reports/deflection?format=csv&bucket=" + bucket).then(function (text) {
        var link = el("a");
        link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
        link.download = "deflection.csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
      });
    });
    bar.appendChild(label);
    bar.appendChild(choose);
    bar.appendChild(csv);
    box.appendChild(bar);
    var wait = loading(box, "Loading the deflection report…");
    A.get("/v1/reports/deflection?bucket=" + bucket).then(function (report) {
      wait.remove();
      var t = report.total, h = report.window_hours;
      // Contacts count at once, deflections only once their window closes: early on the final rate reads
      // low, so the provisional one (open sessions without a contact so far) stands beside it.
      var provisional = t.sessions ? (t.deflected + t.pending) / t.sessions : null;
      var kpis = el("div", "kpis");
      kpis.setAttribute("data-sessions", t.sessions);
      kpis.appendChild(kpi(pct(provisional), "Provisional deflection rate: " + (t.deflected + t.pending) + " of " +
        plural(t.sessions, "session", "sessions") + " have not contacted us so far", "kpi-provisional"));
      kpis.appendChild(kpi(pct(t.deflection_rate), t.closed
        ? "Final deflection rate: " + t.deflected + " of " + plural(t.closed, "session", "sessions") + " past the " + h + " h window"
        : "Final deflection rate: no session has passed the " + h + " h window yet", "kpi-final"));
      kpis.appendChild(kpi(t.pending, "Sessions still open (under " + h + " h, no contact yet)"));
      kpis.appendChild(kpi(t.contacted, "Sessions that contacted us anyway"));
      kpis.appendChild(kpi(t.clicks, "Article clicks"));
      kpis.appendChild(kpi(t.helpful + " / " + t.not_helpful, "Helpful / not helpful votes"));
      box.appendChild(kpis);
      var charts = el("div", "charts");
      [["Sessions per topic", stackedRows(report.by_topic, topicName)],
       ["Sessions per channel", stackedRows(report.by_channel, channelName)],
       ["Sessions per " + report.bucket, columns(report.over_time)]].forEach(function (pair) {
        var c = el("div", "chart");
        c.appendChild(el("h3", null, pair[0]));
        c.appendChild(pair[1]);
        c.appendChild(legend());
        charts.appendChild(c);
      });
      box.appendChild(charts);
      box.appendChild(el("p", "definition", report.definition));
    }).catch(function (err) { wait.remove(); failed(box, "The deflection report", err); });
  }

  function reasons(box) {
    var wait = loading(box, "Loading contact reasons…");
    Promise.all([A.get("/v1/reports/top-reasons"), A.get("/v1/reports/repeat-contacts")]).then(function (both) {
      wait.remove();
      var data = both[0], repeat = both[1];
      var period = data.periods["90d"] || data.periods[Object.keys(data.periods)[0]] || {};
      var totals = {};
      Object.keys(period).forEach(function (channel) {
        period[channel].forEach(function (r) { totals[r.reason] = (totals[r.reason] || 0) + r.count; });
      });
      var rows = Object.keys(totals).sort(function (a, b) { return totals[b] - totals[a]; }).slice(0, 8)
        .map(function (k) { return { label: k === "(none)" ? "no reason tag" : words(k), value: totals[k], text: plural(totals[k], "ticket", "tickets") }; });
      var grid = el("div", "charts");
      var top = el("div", "chart");
      top.appendChild(el("h3", null, "Top contact reasons (90 days)"));
      top.appendChild(rows.length ? simpleRows(rows) : el("p", "muted", "No tickets in the last 90 days."));
      grid.appendChild(top);
      var rep = el("div", "chart");
      rep.appendChild(el("h3", null, "Customers who wrote again within " + repeat.within_days + " days: " +
        pct(repeat.overall.rate) + " of " + plural(repeat.overall.tickets, "ticket", "tickets")));
      var repRows = repeat.by_reason.filter(function (r) { return r.tickets > 0; }).slice(0, 8).map(function (r) {
        return { label: r.key === "(none)" ? "no reason tag" : words(r.key), value: r.rate,
                 text: pct(r.rate) + " of " + plural(r.tickets, "ticket", "tickets") };
      });
      rep.appendChild(repRows.length ? simpleRows(repRows) : el("p", "muted", "No tickets yet."));
      grid.appendChild(rep);
      box.appendChild(grid);
    }).catch(function (err) { wait.remove(); failed(box, "Contact reasons", err); });
  }

  function rootCauses(box) {
    var bar = el("div", "toolbar");
    var label = el("label", null, "Period");
    label.htmlFor = "rc-period";
    var choose = el("select");
    choose.id = "rc-period";
    ["30d", "60d", "90d"].forEach(function (p) { var o = el("option", null, p.replace("d", " days")); o.value = p; choose.appendChild(o); });
    var chooseChannel = el("select");
    chooseChannel.id = "rc-channel";
    chooseChannel.setAttribute("aria-label", "Channel");
    bar.appendChild(label);
    bar.appendChild(choose);
    bar.appendChild(chooseChannel);
    box.appendChild(bar);
    var holder = el("div");
    box.appendChild(holder);
    var wait = loading(box, "Loading the root-cause table…");
    A.get("/v1/reports/root-causes").then(function (report) {
      wait.remove();
      var channels = {};
      Object.keys(report.periods).forEach(function (p) { report.periods[p].forEach(function (r) { channels[r.channel] = true; }); });
      Object.keys(channels).sort(function (a, b) { return a === "all" ? -1 : b === "all" ? 1 : a < b ? -1 : 1; }).forEach(function (c) {
        var o = el("option", null, c === "all" ? "all channels" : A.channel(c));
        o.value = c;
        chooseChannel.appendChild(o);
      });
      function draw() {
        holder.textContent = "";
        var rows = (report.periods[choose.value] || []).filter(function (r) { return r.channel === chooseChannel.value; });
        if (!rows.length) { holder.appendChild(el("p", "muted", "No tickets in this period.")); return; }
        holder.appendChild(table("Contact reasons with their repeat, first-contact-resolution and handling figures",
          ["Reason", "Tickets", "Share", "Repeat rate", "Solved on first contact", "Avg handling", "Root cause · owner"],
          rows.map(function (r) {
            return [r.reason === "(none)" ? "no reason tag" : words(r.reason), String(r.volume), pct(r.share),
                    pct(r.repeat_rate), pct(r.fcr_rate), seconds(r.avg_handling_seconds),
                    r.note ? r.note.root_cause + (r.note.action_owner ? " · " + r.note.action_owner : "") : "not set"];
          })));
      }
      choose.addEventListener("change", draw);
      chooseChannel.addEventListener("change", draw);
      draw();
      var defs = el("details", "definitions");
      defs.appendChild(el("summary", null, "How these are counted"));
      var dl = el("dl");
      Object.keys(report.definitions).forEach(function (k) {
        dl.appendChild(el("dt", null, words(k)));
        dl.appendChild(el("dd", null, report.definitions[k]));
      });
      defs.appendChild(dl);
      box.appendChild(defs);
    }).catch(function (err) { wait.remove(); failed(box, "The root-cause table", err); });
  }

  function macros(box) {
    var wait = loading(box, "Loading macro usage…");
    A.get("/v1/reports/macros").then(function (report) {
      wait.remove();
      box.appendChild(el("p", "muted", plural(report.drafts, "draft", "drafts") + " written; a contact counts as " +
        "resolved on first contact when the customer did not write again within " + report.window_days + " days."));
      if (!report.macros.length) { box.appendChild(el("p", "muted", "No macro used yet.")); return; }
      box.appendChild(table("Macro usage and resolution", ["Macro", "Uses", "Contacts with a known customer", "Resolved on first contact"],
        report.macros.map(function (m) {
          return [words(m.key), String(m.uses), String(m.contacts_with_customer),
                  m.fcr_rate === null ? "–" : pct(m.fcr_rate) + " (" + m.first_contact_resolved + ")"];
        })));
    }).catch(function (err) { wait.remove(); failed(box, "Macro usage", err); });
  }

  function contentGaps(box) {
    var wait = loading(box, "Grouping the last 30 days of unanswered questions (this can take a few seconds)…");
    A.get("/v1/reports/content-gaps").then(function (report) {
      wait.remove();
      box.appendChild(el("p", "muted", report.definition));
      if (!report.clusters.length) { box.appendChild(el("p", "muted", "No content gap: recent questions have articles.")); return; }
      var list = el("ol", "gaps");
      report.clusters.forEach(function (c) {
        var li = el("li", "dup");
        li.appendChild(el("strong", null, words(c.suggested_reason) + " · " + plural(c.contacts, "contact", "contacts") +
                                          " a good article would likely prevent"));
        li.appendChild(el("p", "meta muted", plural(c.tickets, "ticket", "tickets") + ", " + plural(c.queries, "search", "searches") +
          (c.nearest_article ? " · nearest article: " + c.nearest_article.title : " · no article comes close")));
        var ex = el("ul");
        c.examples.slice(0, 3).forEach(function (e) { ex.appendChild(el("li", null, "“" + e.text.slice(0, 160) + "”")); });
        li.appendChild(ex);
        list.appendChild(li);
      });
      box.appendChild(list);
    }).catch(function (err) { wait.remove(); failed(box, "Content gaps", err); });
  }

  function audit(box) {
    var wait = loading(box, "Checking articles against the marketplaces' rules…");
    A.get("/v1/reports/kb-audit").then(function (report) {
      wait.remove();
      box.appendChild(el("p", null, plural(report.articles_checked, "article", "articles") + " sold through marketplaces, " +
        plural(report.checks, "check", "checks") + ": " + report.failing + " with warnings, " + report.blocking + " blocking."));
      var failing = report.results.filter(function (r) { return !r.passed; }).slice(0, 10);
      if (!failing.length) { return; }
      box.appendChild(table("Articles that break a marketplace rule", ["Article", "Channel", "Problem"],
        failing.map(function (r) {
          var link = el("a", null, r.title);
          link.href = "/help/articles/" + encodeURIComponent(r.article_id);
          return [link, A.channel(r.channel), (r.blocking ? "blocking: " : "") +
                  r.violations.map(function (v) { return v.explanation; }).join("; ")];
        })));
    }).catch(function (err) { wait.remove(); failed(box, "The KB audit", err); });
  }

  function render() {
    var app = document.getElementById("app");
    app.textContent = "";
    var head = el("div", "toolbar page-head");
    head.appendChild(el("h1", null, "Reports"));
    var jump = el("nav", "jump");
    jump.setAttribute("aria-label", "Sections");
    [["deflection", "Deflection"], ["reasons", "Contact reasons"], ["root-causes", "Root causes"],
     ["macros", "Macros"], ["gaps", "Content gaps"], ["audit", "KB audit"]].forEach(function (s) {
      var a = el("a", null, s[1]);
      a.href = "#" + s[0];
      jump.appendChild(a);
    });
    head.appendChild(jump);
    app.appendChild(head);
    deflection(section(app, "deflection", "Deflection", null).appendChild(el("div")), "day");
    reasons(section(app, "reasons", "Contact reasons", null));
    rootCauses(section(app, "root-causes", "Root causes per reason",
      "Volume, repeat contacts, first-contact resolution and handling time per reason and channel."));
    macros(section(app, "macros", "Macro usage", null));
    contentGaps(section(app, "gaps", "Content gaps", "Questions customers asked that no article answers well."));
    audit(section(app, "audit", "KB audit", "Help articles checked against each marketplace's messaging rules."));
  }

  A.onReady(render);
})();
