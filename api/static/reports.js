/* Reports page: deflection KPIs and charts (hand-drawn SVG, no library), plus history reports when present. */
(function () {
  "use strict";
  var A = window.Agent;
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = { deflected: "#0f6e6e", contacted: "#e0703a", pending: "#c5ced8" };

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }
  function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 1000) / 10 + "%"; }

  // Horizontal stacked bars: one row per key, deflected / contacted / pending sessions.
  function stackedBars(rows, labelOf) {
    var width = 560, row = 30, left = 150, height = Math.max(1, rows.length) * row + 30;
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img" });
    var max = Math.max.apply(null, rows.map(function (r) { return r.sessions; }).concat([1]));
    var scale = (width - left - 70) / max;
    rows.forEach(function (r, i) {
      var y = 8 + i * row;
      chart.appendChild(svg("text", { x: left - 8, y: y + 15, "text-anchor": "end" }, labelOf(r.key)));
      var x = left;
      ["deflected", "contacted", "pending"].forEach(function (part) {
        var w = r[part] * scale;
        if (w > 0) {
          var rect = svg("rect", { x: x, y: y + 2, width: w, height: row - 12, rx: 3, fill: COLORS[part] });
          rect.appendChild(svg("title", {}, part + ": " + r[part]));
          chart.appendChild(rect);
        }
        x += w;
      });
      chart.appendChild(svg("text", { x: x + 6, y: y + 15 }, pct(r.deflection_rate) + " · " + r.sessions));
    });
    if (!rows.length) { chart.appendChild(svg("text", { x: 10, y: 20 }, "No sessions in this period yet")); }
    return chart;
  }

  function legend() {
    var p = A.el("p", "muted");
    ["deflected", "contacted", "pending"].forEach(function (part) {
      var dot = A.el("span", null, "■ ");
      dot.style.color = COLORS[part];
      p.appendChild(dot);
      p.appendChild(document.createTextNode(part + "   "));
    });
    return p;
  }

  // Columns over time: sessions per day/week, stacked like the bars.
  function columns(rows) {
    var width = 560, height = 220, bottom = 30, top = 10, left = 30;
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img" });
    var max = Math.max.apply(null, rows.map(function (r) { return r.sessions; }).concat([1]));
    var slot = (width - left) / Math.max(rows.length, 1), scale = (height - bottom - top) / max;
    chart.appendChild(svg("line", { x1: left, x2: width, y1: height - bottom, y2: height - bottom, stroke: "#c5ced8" }));
    chart.appendChild(svg("text", { x: 0, y: top + 10 }, max));
    rows.forEach(function (r, i) {
      var x = left + i * slot + slot * 0.15, w = slot * 0.7, y = height - bottom;
      ["deflected", "contacted", "pending"].forEach(function (part) {
        var h = r[part] * scale;
        if (h > 0) {
          y -= h;
          var rect = svg("rect", { x: x, y: y, width: w, height: h, fill: COLORS[part] });
          rect.appendChild(svg("title", {}, r.key + " " + part + ": " + r[part]));
          chart.appendChild(rect);
        }
      });
      if (rows.length <= 14 || i % Math.ceil(rows.length / 10) === 0) {
        chart.appendChild(svg("text", { x: x + w / 2, y: height - 10, "text-anchor": "middle" }, r.key.slice(5)));
      }
    });
    if (!rows.length) { chart.appendChild(svg("text", { x: 40, y: 60 }, "No sessions in this period yet")); }
    return chart;
  }

  function simpleBars(rows) {
    var width = 560, row = 28, left = 170, height = Math.max(1, rows.length) * row + 16;
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img" });
    var max = Math.max.apply(null, rows.map(function (r) { return r.value; }).concat([1e-9]));
    rows.forEach(function (r, i) {
      var y = 6 + i * row, w = (width - left - 80) * r.value / max;
      chart.appendChild(svg("text", { x: left - 8, y: y + 14, "text-anchor": "end" }, r.label));
      chart.appendChild(svg("rect", { x: left, y: y + 2, width: Math.max(w, 1), height: row - 10, rx: 3, fill: "#13807a" }));
      chart.appendChild(svg("text", { x: left + w + 6, y: y + 14 }, r.text));
    });
    return chart;
  }

  function card(title, body, extra) {
    var c = A.el("section", "card chart");
    c.appendChild(A.el("h2", null, title));
    c.appendChild(body);
    if (extra) { c.appendChild(extra); }
    return c;
  }

  function kpi(value, label) {
    var k = A.el("div", "card kpi");
    k.appendChild(A.el("div", "value", value));
    k.appendChild(A.el("div", "label", label));
    return k;
  }

  function label(key) { return key.replace(/_/g, " "); }

  function render(report, bucket) {
    var app = document.getElementById("app");
    app.textContent = "";
    var bar = A.el("div", "toolbar");
    bar.appendChild(A.el("h1", null, "Deflection"));
    var select = A.el("select");
    select.setAttribute("aria-label", "Group over time by");
    [["day", "Per day"], ["week", "Per week"]].forEach(function (o) {
      var opt = A.el("option", null, o[1]);
      opt.value = o[0];
      opt.selected = o[0] === bucket;
      select.appendChild(opt);
    });
    select.style.width = "auto";
    select.addEventListener("change", function () { load(select.value); });
    var csv = A.el("button", "button secondary", "Export CSV");
    csv.type = "button";
    csv.addEventListener("click", function () {
      A.get("/v1/reports/deflection?format=csv&bucket=" + bucket).then(function (text) {
        var link = A.el("a");
        link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
        link.download = "deflection.csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
      });
    });
    bar.appendChild(select);
    bar.appendChild(csv);
    app.appendChild(bar);

    var t = report.total;
    var kpis = A.el("div", "kpis");
    kpis.appendChild(kpi(pct(t.deflection_rate), "Deflection rate (closed " + report.window_hours + " h windows)"));
    kpis.appendChild(kpi(t.sessions, "Sessions that saw suggestions"));
    kpis.appendChild(kpi(t.deflected + " / " + t.contacted, "Deflected / contacted anyway"));
    kpis.appendChild(kpi(t.pending, "Pending (window still open)"));
    kpis.appendChild(kpi(t.clicks, "Article clicks"));
    kpis.appendChild(kpi(t.helpful + " / " + t.not_helpful, "Helpful / not helpful votes"));
    kpis.appendChild(kpi(t.contact_anyway + " / " + t.submitted, "Contact anyway / tickets"));
    kpis.setAttribute("data-sessions", t.sessions);
    app.appendChild(kpis);

    var charts = A.el("div", "charts");
    charts.appendChild(card("Per topic", stackedBars(report.by_topic, label), legend()));
    charts.appendChild(card("Per channel", stackedBars(report.by_channel, label), legend()));
    charts.appendChild(card("Sessions over time (" + report.bucket + ")", columns(report.over_time), legend()));
    app.appendChild(charts);
    history(charts);
    app.appendChild(A.el("p", "definition", report.definition));
  }

  // Contact-reason charts exist only where ticket history is loaded; otherwise they stay out of the page.
  function history(charts) {
    A.get("/v1/reports/top-reasons").then(function (data) {
      var period = data.periods["90d"] || data.periods[Object.keys(data.periods)[0]] || {};
      var totals = {};
      Object.keys(period).forEach(function (channel) {
        period[channel].forEach(function (r) { totals[r.reason] = (totals[r.reason] || 0) + r.count; });
      });
      var rows = Object.keys(totals).sort(function (a, b) { return totals[b] - totals[a]; }).slice(0, 5)
        .map(function (k) { return { label: label(k), value: totals[k], text: String(totals[k]) }; });
      if (rows.length) { charts.appendChild(card("Top 5 contact reasons (90 days)", simpleBars(rows))); }
    }).catch(function () { /* no history in this build */ });
    A.get("/v1/reports/repeat-contacts").then(function (data) {
      var rows = data.by_reason.filter(function (r) { return r.tickets > 0; }).slice(0, 8)
        .map(function (r) { return { label: label(r.key), value: r.rate, text: pct(r.rate) + " of " + r.tickets }; });
      if (rows.length) {
        charts.appendChild(card("Repeat-contact rate within " + data.within_days + " days (overall " +
                                pct(data.overall.rate) + ")", simpleBars(rows)));
      }
    }).catch(function () { /* idem */ });
  }

  function load(bucket) {
    A.get("/v1/reports/deflection?bucket=" + bucket).then(function (report) { render(report, bucket); })
      .catch(function (err) {
        var app = document.getElementById("app");
        app.textContent = "";
        app.appendChild(A.el("div", "notice bad", "Could not load the report: " + err.message));
      });
  }

  A.onReady(function () { load("day"); });
})();
