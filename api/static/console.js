/* Agent console: queue, unified history timeline, duplicate candidates with merge/undo, and draft replies. */
(function () {
  "use strict";
  var A = window.Agent;
  var el = A.el;
  var state = { tickets: [], current: null, lastMerge: null };

  function layout() {
    var app = document.getElementById("app");
    app.textContent = "";
    var grid = el("div", "console-grid");
    var left = el("section", "card");
    left.appendChild(el("h1", null, "Tickets"));
    var list = el("ul", "ticket-list");
    list.id = "tickets";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Tickets");
    left.appendChild(list);
    var right = el("section", "card");
    right.id = "detail";
    right.appendChild(el("p", "muted", "Choose a ticket to see the customer's history, duplicates and a draft reply."));
    grid.appendChild(left);
    grid.appendChild(right);
    app.appendChild(grid);
  }

  function loadQueue() {
    A.get("/v1/tickets?limit=60").then(function (page) {
      var tickets = page.items;
      state.tickets = tickets;
      var list = document.getElementById("tickets");
      list.textContent = "";
      tickets.forEach(function (t) {
        var li = el("li");
        li.setAttribute("role", "option");
        li.setAttribute("data-ticket-id", t.id);
        li.tabIndex = 0;
        li.appendChild(el("span", "subject", t.subject || t.body.slice(0, 60)));
        li.appendChild(el("span", "meta", t.channel + " · " + A.when(t.created_at) + " · " + t.status +
                                          (t.tags.length ? " · " + t.tags.join(", ") : "")));
        li.addEventListener("click", function () { open(t.id); });
        li.addEventListener("keydown", function (e) { if (e.key === "Enter") { open(t.id); } });
        list.appendChild(li);
      });
      if (!tickets.length) { list.appendChild(el("li", "muted", "No tickets yet.")); }
    }).catch(function (err) { document.getElementById("tickets").appendChild(el("li", "notice bad", err.message)); });
  }

  function section(parent, title) {
    parent.appendChild(el("h2", "section-title", title));
    var box = el("div");
    parent.appendChild(box);
    return box;
  }

  function open(ticketId) {
    document.querySelectorAll("#tickets li").forEach(function (li) {
      li.setAttribute("aria-selected", String(li.getAttribute("data-ticket-id") === ticketId));
    });
    var detail = document.getElementById("detail");
    detail.textContent = "";
    A.get("/v1/tickets/" + encodeURIComponent(ticketId)).then(function (t) {
      state.current = t;
      var head = el("div", "toolbar");
      head.appendChild(el("h1", null, t.subject || "Ticket " + t.id));
      head.appendChild(el("span", "badge ok", t.channel));
      detail.appendChild(head);
      detail.appendChild(el("p", "meta muted", t.id + " · " + A.when(t.created_at) +
                                               (t.order_id ? " · order " + t.order_id : "")));
      detail.appendChild(el("p", null, t.body));
      draftSection(section(detail, "Draft reply"), t);
      articlesSection(section(detail, "Articles that answer each question"), t);
      duplicatesSection(section(detail, "Possible duplicates"), t);
      timelineSection(section(detail, "Customer history"), t);
    }).catch(function (err) { detail.appendChild(el("div", "notice bad", err.message)); });
  }

  function articlesSection(box, t) {
    A.get("/v1/tickets/" + encodeURIComponent(t.id) + "/suggested-articles").then(function (r) {
      r.questions.forEach(function (q) {
        box.appendChild(el("h3", "section-title", q.topic.replace(/_/g, " ") + ": " + q.text));
        if (!q.articles.length) { box.appendChild(el("p", "muted", "No article answers this question.")); }
        q.articles.forEach(function (a) {
          var card = el("div", "dup"), link = el("a", null, a.title);
          link.href = "/help/articles/" + encodeURIComponent(a.id);
          link.target = "_blank";
          card.appendChild(link);
          card.appendChild(el("span", "meta muted", " " + Math.round(a.confidence * 100) + "%"));
          var passage = el("p");
          passage.appendChild(document.createTextNode(a.passage.slice(0, a.highlight[0])));
          passage.appendChild(el("mark", null, a.passage.slice(a.highlight[0], a.highlight[1])));
          passage.appendChild(document.createTextNode(a.passage.slice(a.highlight[1])));
          card.appendChild(passage);
          box.appendChild(card);
        });
      });
    }).catch(function (err) { box.appendChild(el("p", "muted", "Suggestions unavailable: " + err.message)); });
  }

  function timelineSection(box, t) {
    if (!t.customer_id) { box.appendChild(el("p", "muted", "Not linked to a customer.")); return; }
    A.get("/v1/customers/" + t.customer_id + "/history").then(function (h) {
      var who = el("p", "muted", h.name + " · " + h.identities.filter(function (i) { return !i.unlinked_at; })
        .map(function (i) { return i.kind + " (" + i.reason + ")"; }).join(", "));
      box.appendChild(who);
      var ul = el("ul", "timeline");
      h.events.slice().reverse().forEach(function (ev) {
        var li = el("li");
        li.appendChild(el("div", "meta", A.when(ev.at) + " · " + ev.kind + (ev.channel ? " · " + ev.channel : "")));
        li.appendChild(el("div", null, ev.summary));
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }).catch(function (err) { box.appendChild(el("p", "muted", "History unavailable: " + err.message)); });
  }

  function duplicatesSection(box, t) {
    A.get("/v1/tickets/" + encodeURIComponent(t.id) + "/duplicates").then(function (d) {
      if (!d.candidates.length) { box.appendChild(el("p", "muted", "No likely duplicate in the last " + d.window_days + " days.")); }
      d.candidates.forEach(function (c) {
        var card = el("div", "dup");
        var top = el("div", "toolbar");
        top.appendChild(el("strong", null, c.subject || c.ticket_id));
        top.appendChild(el("span", "badge " + (c.is_duplicate ? "warn" : "ok"),
                           (c.is_duplicate ? "likely duplicate " : "similar ") + Math.round(c.score * 100) + "%"));
        top.appendChild(el("span", "meta muted", c.channel + " · " + A.when(c.created_at)));
        card.appendChild(top);
        var reasons = el("ul");
        c.reasons.forEach(function (r) { reasons.appendChild(el("li", null, r)); });
        card.appendChild(reasons);
        var merge = el("button", "button secondary", "Merge with this ticket");
        merge.type = "button";
        merge.addEventListener("click", function () {
          A.post("/v1/tickets/merge", { ticket_ids: [t.id, c.ticket_id], reason: "merged from the console" })
            .then(function (group) {
              state.lastMerge = group.id;
              card.textContent = "";
              card.appendChild(el("p", null, "Merged (group " + group.id + "). The reply goes to ticket " +
                                             group.primary_ticket_id + "."));
              var undo = el("button", "button secondary", "Undo merge");
              undo.type = "button";
              undo.addEventListener("click", function () {
                A.post("/v1/tickets/merge/" + group.id + "/undo", { reason: "undone from the console" })
                  .then(function () { card.textContent = ""; card.appendChild(el("p", "muted", "Merge undone.")); });
              });
              card.appendChild(undo);
            }).catch(function (err) { card.appendChild(el("div", "notice bad", err.message)); });
        });
        card.appendChild(merge);
        box.appendChild(card);
      });
    }).catch(function (err) { box.appendChild(el("p", "muted", "Duplicates unavailable: " + err.message)); });
  }

  function draftSection(box, t) {
    var button = el("button", "button", "Draft reply");
    button.type = "button";
    box.appendChild(button);
    button.addEventListener("click", function () {
      button.disabled = true;
      button.textContent = "Drafting…";
      A.post("/v1/drafts", { ticket_id: t.id }).then(function (d) {
        box.textContent = "";
        var status = el("div", "toolbar");
        status.appendChild(el("span", "badge " + (d.ready_to_send ? "ok" : "warn"),
                              d.ready_to_send ? "ready to send" : "needs review"));
        status.appendChild(el("span", "badge " + (d.compliance.passed ? "ok" : "bad"),
                              d.compliance.passed ? "compliant with " + d.channel + " rules"
                                                  : d.compliance.violations.length + " compliance warnings"));
        box.appendChild(status);
        var text = el("textarea", "draft-text");
        text.value = d.reply;
        text.setAttribute("aria-label", "Draft reply (editable)");
        box.appendChild(text);
        var copy = el("button", "button secondary", "Copy reply");
        copy.type = "button";
        copy.addEventListener("click", function () {
          navigator.clipboard.writeText(text.value).then(function () { copy.textContent = "Copied"; },
                                                          function () { text.select(); });
        });
        box.appendChild(copy);
        // Sending approves this exact text: the server checks it against the channel's rules again and
        // refuses a blocking violation; the outbox status below follows it until it has left.
        var send = el("button", "button", "Approve and send");
        send.type = "button";
        var sendStatus = el("div", "muted");
        sendStatus.setAttribute("role", "status");
        sendStatus.setAttribute("aria-live", "polite");
        send.addEventListener("click", function () {
          send.disabled = true;
          A.post("/v1/drafts/" + d.id + "/send", { text: text.value }).then(function (o) {
            text.readOnly = true;
            follow(o.id, sendStatus, 0);
          }).catch(function (err) {
            send.disabled = false;
            sendStatus.textContent = "Not sent: " + err.message;
          });
        });
        box.appendChild(send);
        box.appendChild(sendStatus);
        var cov = el("ul", "coverage");
        d.questions.forEach(function (q) {
          var li = el("li");
          li.appendChild(el("span", "badge " + (q.status === "answered" ? "ok" : "warn"), q.status.replace("_", " ")));
          li.appendChild(document.createTextNode(" " + q.text + " — " + q.reason));
          cov.appendChild(li);
        });
        box.appendChild(el("h3", "section-title", "Questions covered"));
        box.appendChild(cov);
        if (d.compliance.violations.length) {
          box.appendChild(el("h3", "section-title", "Compliance warnings"));
          var warn = el("ul");
          d.compliance.violations.forEach(function (v) {
            warn.appendChild(el("li", null, v.rule + ": “" + v.text + "” — " + v.explanation));
          });
          box.appendChild(warn);
        }
        if (d.articles.length || d.facts.length) {
          box.appendChild(el("h3", "section-title", "Sources"));
          var src = el("ul");
          d.facts.forEach(function (f) { src.appendChild(el("li", null, f.name + ": " + f.value + " (" + f.source + ")")); });
          d.articles.forEach(function (a) {
            var li = el("li"), link = el("a", null, a.title);
            link.href = "/help/articles/" + encodeURIComponent(a.id);
            link.target = "_blank";
            li.appendChild(link);
            src.appendChild(li);
          });
          box.appendChild(src);
        }
      }).catch(function (err) {
        button.disabled = false;
        button.textContent = "Draft reply";
        box.appendChild(el("div", "notice bad", "Draft unavailable: " + err.message));
      });
    });
  }

  function follow(outboxId, status, polls) {
    A.get("/v1/outbox/" + outboxId).then(function (o) {
      var words = { pending: "queued for sending", sending: "sending", sent: "sent to " + o.to_address,
                    blocked: "not sent: " + (o.last_error || "blocked by the compliance check"),
                    failed: "not sent: " + (o.last_error || "the mail server refused it"), cancelled: "cancelled" };
      status.textContent = "Reply " + (words[o.status] || o.status) + ".";
      if ((o.status === "pending" || o.status === "sending") && polls < 60) {
        setTimeout(function () { follow(outboxId, status, polls + 1); }, 2000);
      }
    }).catch(function (err) { status.textContent = "Outbox unavailable: " + err.message; });
  }

  A.onReady(function () { layout(); loadQueue(); });
})();
