/* Conditional contact form: answers for the chosen topic while the customer types, the live order status
   once the order verifies, and "I still need help" creating one ticket through the contact-form API. */
(function () {
  "use strict";
  var D = window.Deflect;
  var form = document.getElementById("contact-form");
  if (!form || !D || !D.key) { return; }
  var _ = D._, pgettext = D.pgettext;
  var field = function (id) { return document.getElementById(id); };
  var answers = field("answers"), empty = field("answers-empty"), orderBox = field("order-status");
  var status = field("form-status"), submit = field("submit-ticket");
  var timer = null, inflight = null, lastShown = "", lastAsked = "", submitted = false;
  // One id per form visit: a second click re-sends the same ticket, which the API treats as unchanged.
  var submissionId = D.session.slice(2, 14) + "-" + Date.now().toString(36);
  var STATUS = {
    processing: pgettext("status", "processing"), shipped: pgettext("status", "shipped"),
    delivered: pgettext("status", "delivered"), returned: pgettext("status", "returned"),
    cancelled: pgettext("status", "cancelled"), in_transit: pgettext("status", "in transit"),
    label_created: pgettext("status", "label created"), pre_transit: pgettext("status", "awaiting the carrier"),
    out_for_delivery: pgettext("status", "out for delivery"),
    available_for_pickup: pgettext("status", "ready for pickup"), exception: pgettext("status", "delivery problem"),
    delayed: pgettext("status", "delayed"), pending: pgettext("status", "pending"),
    requested: pgettext("status", "requested"), issued: pgettext("status", "issued"),
    failed: pgettext("status", "failed")
  };
  function statusName(value) { return STATUS[value] || String(value).replace(/_/g, " "); }

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

  // Each field says what is wrong with it; screen readers hear it with the field (aria-describedby).
  function fieldError(id, message) {
    var input = field(id), error = field(id + "-error");
    error.textContent = message || "";
    error.hidden = !message;
    if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    return message ? input : null;
  }
  function emailProblem(email) {
    if (!email) { return _("Enter your e-mail address so we can reply."); }
    return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) ? "" : _("This e-mail address looks incomplete, e.g. name@example.com.");
  }
  function validate(v) {
    var bad = [
      fieldError("topic", v.topic ? "" : _("Choose a topic.")),
      fieldError("message", v.message.length >= 10 ? "" : _("Write a few words about your issue (at least 10 characters).")),
      fieldError("email", emailProblem(v.email))
    ].filter(Boolean);
    if (bad.length) { bad[0].focus(); }
    return bad.length === 0;
  }
  ["topic", "message", "email"].forEach(function (id) {
    // Once flagged, a field clears its message as soon as it is right.
    field(id).addEventListener("input", function () {
      if (field(id).getAttribute("aria-invalid") !== "true") { return; }
      var v = values();
      fieldError(id, id === "topic" ? (v.topic ? "" : _("Choose a topic."))
        : id === "email" ? emailProblem(v.email)
        : (v.message.length >= 10 ? "" : _("Write a few words about your issue (at least 10 characters).")));
    });
  });

  function renderOrder(data) {
    orderBox.textContent = "";
    orderBox.hidden = data.verification === "not_requested";
    if (data.verification === "not_verified") {
      orderBox.appendChild(D.el("div", "notice warn",
        _("We couldn't match that order number with this e-mail or postcode. Check both and try again.")));
      return;
    }
    if (data.verification === "unavailable" || !data.order) { orderBox.hidden = true; return; }
    var o = data.order, card = D.el("div", "order-card");
    card.setAttribute("data-order-id", o.order_id);
    var h = D.el("h3", null, _("Order {id}", { id: o.order_id }) + " ");
    h.appendChild(D.el("span", "status-pill", statusName(o.status)));
    card.appendChild(h);
    var dl = D.el("dl");
    function row(label, value) {
      if (!value) { return; }
      dl.appendChild(D.el("dt", null, label));
      dl.appendChild(D.el("dd", null, value));
    }
    row(_("Items"), o.items.join(", "));
    o.shipments.forEach(function (s) {
      row(_("Carrier"), s.carrier);
      row(_("Tracking"), s.tracking_number);
      row(_("Parcel"), statusName(s.status) + (s.location ? " · " + s.location : ""));
      // A delivered parcel has a delivery date, not an expected one.
      if (s.status === "delivered") {
        row(_("Delivered"), D.date(s.status_at));
      } else {
        row(_("Expected"), D.date(s.eta));
      }
    });
    o.refunds.forEach(function (r) {
      row(_("Refund"), r.refund_id + " · " + statusName(r.status) + " · " +
          r.amount.toLocaleString(D.lang, { style: "currency", currency: o.currency }));
    });
    card.appendChild(dl);
    orderBox.appendChild(card);
  }

  function render(v, data) {
    answers.textContent = "";
    empty.hidden = data.suggestions.length > 0;
    if (!data.suggestions.length) { empty.textContent = _("No article matches yet: keep typing, or send us your message."); }
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
      D.highlight(p, D.plain(s.snippet), v.message);
      var solved = D.el("button", "solved", _("This solved it"));
      solved.type = "button";
      solved.addEventListener("click", function () {
        D.track("helpful", { source: "contact_form", topic: topicTag(v.topic), channel: v.channel, article_id: s.id,
                             customer_email: v.email });
        notice("ok", _("Great, glad that helped! You don't need to send the form."));
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
                              customer_email: v.email, locale: D.lang });
    }
  }

  var TOPIC_TAGS = { tracking: "tracking", "return": "return_label", refund: "refund_status",
                     damaged: "damaged_in_transit", cancellation: "cancellation",
                     product_question: "product_question", other: "other" };
  function topicTag(topic) { return TOPIC_TAGS[topic] || null; }

  function refresh() {
    var v = values();
    if (!v.topic) { return; }
    var body = { topic: v.topic, message: v.message, channel: v.channel, locale: D.lang };
    // Failed order checks are limited per order and visitor: only send a secret once it is complete,
    // so half-typed e-mails and postcodes do not use up the customer's attempts.
    var email = /^[^@\s]+@[^@\s]+\.[^@\s]{2,}$/.test(v.email) ? v.email : "";
    var postcode = v.postcode.replace(/[^0-9A-Za-z]/g, "").length >= 4 ? v.postcode : "";
    if (v.order_id && (email || postcode)) {
      body.order_id = v.order_id;
      if (email) { body.email = email; }
      if (postcode) { body.postcode = postcode; }
    }
    var asked = JSON.stringify(body);
    if (asked === lastAsked) { return; }  // the same question was just answered
    if (inflight) { inflight.abort(); }
    var controller = new AbortController();
    inflight = controller;
    fetch("/v1/contact-form/suggest", {
      method: "POST", signal: controller.signal,
      headers: { "Content-Type": "application/json", "X-API-Key": D.key }, body: asked
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (data) {
      if (controller === inflight) { inflight = null; lastAsked = asked; render(v, data); }
    }).catch(function (e) {
      if (e.name === "AbortError") { return; }
      empty.hidden = false;
      empty.textContent = _("Suggestions are unavailable right now; you can still send your message.");
    });
  }

  function schedule() { clearTimeout(timer); timer = setTimeout(refresh, 300); }
  field("topic").addEventListener("change", refresh);
  field("channel").addEventListener("change", refresh);
  ["message", "order_id", "email", "postcode"].forEach(function (id) { field(id).addEventListener("input", schedule); });

  // The API's own field checks, should the browser's pass something it refuses.
  var SERVER_FIELDS = { topic: "topic", message: "message", email: "email" };
  function serverErrors(data) {
    var details = (data && data.error && data.error.details) || [];
    var bad = details.map(function (d) {
      var name = SERVER_FIELDS[(d.loc || [])[d.loc.length - 1]];
      if (!name) { return null; }
      return fieldError(name, name === "email" ? _("This e-mail address looks incomplete, e.g. name@example.com.")
        : name === "topic" ? _("Choose a topic.") : _("Write a few words about your issue (at least 10 characters)."));
    }).filter(Boolean);
    if (bad.length) { bad[0].focus(); }
    return bad.length > 0;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (submitted) { return; }
    var v = values();
    status.textContent = "";
    if (!validate(v)) { return; }
    submitted = true;
    submit.disabled = true;
    var tag = topicTag(v.topic);
    D.track("contact_anyway", { source: "contact_form", topic: tag, channel: v.channel, customer_email: v.email });
    var body = { submission_id: submissionId, session_id: D.session, topic: v.topic, message: v.message,
                 email: v.email, channel: v.channel, locale: D.lang };
    if (v.order_id) { body.order_id = v.order_id; }
    D.api("/v1/contact-form/submit", body).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
    }).then(function (res) {
      if (!res.ok) {
        if (res.status === 422 && serverErrors(res.data)) { submitted = false; submit.disabled = false; return; }
        throw new Error((res.data.error && res.data.error.message) || "request failed");
      }
      var box = notice("ok", _("Thanks, we have your message (reference {ref}).", { ref: res.data.ticket_id }) + " ");
      box.appendChild(document.createTextNode(res.data.linked_to_earlier_contact
        ? _("We linked it to your earlier conversation, so you'll get one complete answer.")
        : _("We usually reply within one working day.")));
      form.setAttribute("data-submitted", res.data.ticket_id);
    }).catch(function (err) {
      submitted = false;
      submit.disabled = false;
      notice("bad", _("We couldn't send your message just now ({error}). Please try again in a minute.",
                      { error: err.message }));
    });
  });
})();
