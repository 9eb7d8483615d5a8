/* Conditional contact form: answers for the chosen topic while the customer types, the live order status
   once the order verifies, and "I still need help" creating one ticket through the tickets API. */
(function () {
  "use strict";
  var D = window.Deflect;
  var form = document.getElementById("contact-form");
  if (!form || !D || !D.key) { return; }
  var field = function (id) { return document.getElementById(id); };
  var answers = field("answers"), empty = field("answers-empty"), orderBox = field("order-status");
  var status = field("form-status"), submit = field("submit-ticket");
  var lang = document.documentElement.lang || "en";
  var timer = null, inflight = null, lastShown = "", submitted = false;
  // One id per form visit: a second click re-sends the same ticket, which the API treats as unchanged.
  var submissionId = D.session.slice(2, 14) + "-" + Date.now().toString(36);

  function values() {
    return {
      topic: field("topic").value, message: field("message").value.trim(), channel: field("channel").value,
      order_id: field("order_id").value.trim(), email: field("email").value.trim(),
      postcode: field("postcode").value.trim()
    };
  }

  function notice(kind, text) {
    status.textContent = "";
    var box = D.el("div", "notice " + kind, text);
    status.appendChild(box);
    return box;
  }

  function highlighted(node, text, spans) {
    var chars = Array.from(text), pos = 0;
    (spans || []).forEach(function (s) {
      if (s[0] < pos) { return; }
      node.appendChild(document.createTextNode(chars.slice(pos, s[0]).join("")));
      node.appendChild(D.el("mark", null, chars.slice(s[0], s[1]).join("")));
      pos = s[1];
    });
    node.appendChild(document.createTextNode(chars.slice(pos).join("")));
  }

  function renderOrder(data) {
    orderBox.textContent = "";
    orderBox.hidden = data.verification === "not_requested";
    if (data.verification === "not_verified") {
      orderBox.appendChild(D.el("div", "notice warn", D.t("contact.not_verified")));
      return;
    }
    if (data.verification === "unavailable" || !data.order) { orderBox.hidden = true; return; }
    var o = data.order, card = D.el("div", "order-card");
    card.setAttribute("data-order-id", o.order_id);
    var h = D.el("h3", null, D.t("order.title", { id: o.order_id }) + " ");
    h.appendChild(D.el("span", "status-pill", D.status(o.status)));
    card.appendChild(h);
    var dl = D.el("dl");
    function row(label, value) {
      if (!value) { return; }
      dl.appendChild(D.el("dt", null, label));
      dl.appendChild(D.el("dd", null, value));
    }
    row(D.t("order.items"), o.items.join(", "));
    o.shipments.forEach(function (s) {
      row(D.t("order.carrier"), s.carrier);
      row(D.t("order.tracking"), s.tracking_number);
      row(D.t("order.parcel"), D.status(s.status) + (s.location ? " · " + s.location : ""));
      row(D.t("order.expected"),
          s.eta ? new Date(s.eta).toLocaleDateString(lang, { day: "numeric", month: "long" }) : "");
    });
    o.refunds.forEach(function (r) {
      row(D.t("order.refund"), r.refund_id + " · " + D.status(r.status) + " · " +
          r.amount.toLocaleString(lang, { style: "currency", currency: o.currency }));
    });
    card.appendChild(dl);
    orderBox.appendChild(card);
  }

  function render(v, data) {
    answers.textContent = "";
    empty.hidden = data.suggestions.length > 0;
    if (!data.suggestions.length) { empty.textContent = D.t("contact.no_match"); }
    data.suggestions.forEach(function (s) {
      var li = D.el("li");
      li.setAttribute("data-article-id", s.id);
      var h = D.el("h3"), a = D.el("a", null, s.title);
      a.href = "/help/articles/" + encodeURIComponent(s.id);
      a.target = "_blank";
      a.rel = "noopener";
      a.addEventListener("click", function () {
        D.track("click", { source: "contact_form", topic: topicTag(v.topic), channel: v.channel, article_id: s.id });
      });
      h.appendChild(a);
      var p = D.el("p");
      highlighted(p, s.snippet, s.highlights);
      var solved = D.el("button", "solved", D.t("contact.solved"));
      solved.type = "button";
      solved.addEventListener("click", function () {
        D.track("helpful", { source: "contact_form", topic: topicTag(v.topic), channel: v.channel, article_id: s.id,
                             customer_email: v.email });
        notice("ok", D.t("contact.glad"));
      });
      li.appendChild(h);
      li.appendChild(p);
      li.appendChild(solved);
      answers.appendChild(li);
    });
    renderOrder(data);
    var shown = v.topic + "|" + data.suggestions.map(function (s) { return s.id; }).join(",");
    if (data.suggestions.length && shown !== lastShown) {
      lastShown = shown;
      D.track("impression", { source: "contact_form", topic: topicTag(v.topic), channel: v.channel,
                              query: v.message.slice(0, 2000), article_id: data.suggestions[0].id,
                              article_ids: data.suggestions.map(function (s) { return s.id; }),
                              customer_email: v.email, locale: lang });
    }
  }

  var TOPIC_TAGS = { tracking: "tracking", "return": "return_label", refund: "refund_status",
                     damaged: "damaged_in_transit", cancellation: "cancellation",
                     product_question: "product_question", other: "other" };
  function topicTag(topic) { return TOPIC_TAGS[topic] || null; }

  function refresh() {
    var v = values();
    if (!v.topic) { return; }
    if (inflight) { inflight.abort(); }
    var controller = new AbortController();
    inflight = controller;
    var body = { topic: v.topic, message: v.message, channel: v.channel, locale: lang };
    if (v.order_id && (v.email || v.postcode)) {
      body.order_id = v.order_id;
      if (v.email) { body.email = v.email; }
      if (v.postcode) { body.postcode = v.postcode; }
    }
    fetch("/v1/contact-form/suggest", {
      method: "POST", signal: controller.signal,
      headers: { "Content-Type": "application/json", "X-API-Key": D.key }, body: JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (data) {
      if (controller === inflight) { inflight = null; render(v, data); }
    }).catch(function (e) {
      if (e.name === "AbortError") { return; }
      empty.hidden = false;
      empty.textContent = D.t("contact.unavailable");
    });
  }

  function schedule() { clearTimeout(timer); timer = setTimeout(refresh, 300); }
  field("topic").addEventListener("change", refresh);
  field("channel").addEventListener("change", refresh);
  ["message", "order_id", "email", "postcode"].forEach(function (id) { field(id).addEventListener("input", schedule); });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (submitted) { return; }
    var v = values();
    if (!v.topic || v.message.length < 10 || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v.email)) {
      notice("bad", D.t("contact.invalid"));
      return;
    }
    submitted = true;
    submit.disabled = true;
    var tag = topicTag(v.topic);
    D.track("contact_anyway", { source: "contact_form", topic: tag, channel: v.channel, customer_email: v.email });
    var body = { submission_id: submissionId, session_id: D.session, topic: v.topic, message: v.message,
                 email: v.email, channel: v.channel, locale: lang };
    if (v.order_id) { body.order_id = v.order_id; }
    D.api("/v1/contact-form/submit", body).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      if (!res.ok) { throw new Error((res.data.error && res.data.error.message) || "request failed"); }
      var box = notice("ok", D.t("contact.received", { ref: res.data.ticket_id }) + " ");
      box.appendChild(document.createTextNode(D.t(res.data.linked_to_earlier_contact
        ? "contact.linked" : "contact.reply_time")));
      form.setAttribute("data-submitted", res.data.ticket_id);
    }).catch(function (err) {
      submitted = false;
      submit.disabled = false;
      notice("bad", D.t("contact.send_failed", { error: err.message }));
    });
  });
})();
