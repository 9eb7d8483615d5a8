/* Agent console: the queue (filters, paging, open by id), the customer's history, duplicates with
   merge/undo, articles per question and a draft reply. */
(function () {
  "use strict";
  var A = window.Agent;
  var el = A.el;
  var PAGE = 50;
  var state = { cursor: null, current: null, filters: {}, active: -1 };

  function words(value) { return String(value || "").replace(/_/g, " "); }

  function select(id, label, values) {
    var wrap = el("div", "filter");
    var l = el("label", null, label);
    l.htmlFor = id;
    var s = el("select");
    s.id = id;
    [["", "Any"]].concat(values.map(function (v) { return [v, words(v)]; })).forEach(function (pair) {
      var option = el("option", null, pair[1]);
      option.value = pair[0];
      s.appendChild(option);
    });
    wrap.appendChild(l);
    wrap.appendChild(s);
    return wrap;
  }

  function layout() {
    var app = document.getElementById("app");
    app.textContent = "";
    var vocab = A.vocab();
    var grid = el("div", "console-grid");
    var left = el("section", "card queue");
    left.setAttribute("aria-labelledby", "queue-heading");
    var heading = el("h1", null, "Tickets");
    heading.id = "queue-heading";
    left.appendChild(heading);

    var find = el("form", "inline-field open-ticket");
    var findLabel = el("label", "sr-only", "Open a ticket by id");
    findLabel.htmlFor = "open-id";
    var findInput = el("input");
    findInput.id = "open-id";
    findInput.placeholder = "Ticket id, e.g. t-1001";
    findInput.autocomplete = "off";
    var findButton = el("button", "button secondary", "Open");
    findButton.type = "submit";
    find.appendChild(findLabel);
    find.appendChild(findInput);
    find.appendChild(findButton);
    find.addEventListener("submit", function (e) {
      e.preventDefault();
      if (findInput.value.trim()) { open(findInput.value.trim()); }
    });
    left.appendChild(find);

    var search = el("div", "filter search-filter");
    var searchLabel = el("label", null, "Words");
    searchLabel.htmlFor = "filter-q";
    var searchInput = el("input");
    searchInput.id = "filter-q";
    searchInput.type = "search";
    searchInput.placeholder = "Text, ticket or order id";
    searchInput.autocomplete = "off";
    search.appendChild(searchLabel);
    search.appendChild(searchInput);

    var filters = el("div", "filters");
    filters.appendChild(search);
    filters.appendChild(select("filter-status", "Status", vocab.statuses));
    filters.appendChild(select("filter-channel", "Channel", vocab.channels));
    filters.appendChild(select("filter-tag", "Reason", vocab.tags));
    function applyFilters() {
      var next = {
        q: searchInput.value.trim(),
        status: document.getElementById("filter-status").value,
        channel: document.getElementById("filter-channel").value,
        tag: document.getElementById("filter-tag").value
      };
      if (JSON.stringify(next) === JSON.stringify(state.filters)) { return; }
      state.filters = next;
      loadQueue(true);
    }
    filters.addEventListener("change", applyFilters);
    // Typing searches after a pause, like the widget: not one request per keystroke.
    var typing = null;
    searchInput.addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(applyFilters, 300);
    });
    left.appendChild(filters);

    var count = el("p", "muted queue-count");
    count.id = "queue-count";
    count.setAttribute("role", "status");
    left.appendChild(count);
    // One tab stop: arrow keys move through the queue (listbox with aria-activedescendant).
    var list = el("ul", "ticket-list");
    list.id = "tickets";
    list.tabIndex = 0;
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-labelledby", "queue-heading");
    list.addEventListener("keydown", queueKeys);
    left.appendChild(list);
    var more = el("button", "button secondary more", "Load older tickets");
    more.id = "queue-more";
    more.type = "button";
    more.hidden = true;
    more.addEventListener("click", function () { loadQueue(false); });
    left.appendChild(more);

    var right = el("section", "card detail");
    right.id = "detail";
    right.setAttribute("aria-live", "polite");
    right.appendChild(el("p", "muted", "Choose a ticket to see the customer's history, duplicates and a draft reply."));
    grid.appendChild(left);
    grid.appendChild(right);
    app.appendChild(grid);
  }

  function options() { return Array.prototype.slice.call(document.querySelectorAll("#tickets [role=option]")); }

  function setActive(index) {
    var all = options();
    if (!all.length) { return; }
    state.active = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (li, i) { li.classList.toggle("focused", i === state.active); });
    var list = document.getElementById("tickets");
    list.setAttribute("aria-activedescendant", all[state.active].id);
    all[state.active].scrollIntoView({ block: "nearest" });
  }

  function queueKeys(e) {
    var all = options();
    if (!all.length) { return; }
    var moves = { ArrowDown: state.active + 1, ArrowUp: state.active - 1, Home: 0, End: all.length - 1,
                  PageDown: state.active + 10, PageUp: state.active - 10 };
    if (e.key in moves) {
      e.preventDefault();
      setActive(state.active < 0 && e.key === "ArrowDown" ? 0 : moves[e.key]);
    } else if ((e.key === "Enter" || e.key === " ") && state.active >= 0) {
      e.preventDefault();
      open(all[state.active].getAttribute("data-ticket-id"));
    }
  }

  function ticketOption(t) {
    var li = el("li");
    li.id = "ticket-" + t.id.replace(/[^A-Za-z0-9_-]/g, "_");
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(state.current === t.id));
    li.setAttribute("data-ticket-id", t.id);
    li.appendChild(el("span", "subject", t.subject || t.body.slice(0, 80)));
    li.appendChild(el("span", "meta", [A.channel(t.channel), A.when(t.created_at), words(t.status)]
      .concat(t.tags.length ? [t.tags.map(words).join(", ")] : ["no reason tag"]).join(" · ")));
    li.addEventListener("click", function () {
      setActive(options().indexOf(li));
      open(t.id);
    });
    return li;
  }

  function loadQueue(reset) {
    var list = document.getElementById("tickets"), more = document.getElementById("queue-more");
    if (reset) { state.cursor = null; state.active = -1; list.textContent = ""; list.removeAttribute("aria-activedescendant"); }
    // A newer search replaces an older one still on its way: only the latest answer is shown.
    var seq = state.seq = (state.seq || 0) + 1;
    var query = ["limit=" + PAGE];
    Object.keys(state.filters).forEach(function (k) {
      if (state.filters[k]) { query.push(k + "=" + encodeURIComponent(state.filters[k])); }
    });
    if (state.cursor) { query.push("cursor=" + encodeURIComponent(state.cursor)); }
    more.disabled = true;
    A.get("/v1/tickets?" + query.join("&")).then(function (page) {
      if (seq !== state.seq) { return; }
      page.items.forEach(function (t) { list.appendChild(ticketOption(t)); });
      state.cursor = page.next_cursor;
      more.hidden = !page.next_cursor;
      more.disabled = false;
      var shown = options().length;
      document.getElementById("queue-count").textContent = shown
        ? shown + (page.next_cursor ? "+ tickets (newest first)" : " tickets (newest first)")
        : "No tickets match these filters.";
    }).catch(function (err) {
      if (seq !== state.seq) { return; }
      more.disabled = false;
      document.getElementById("queue-count").textContent = "Could not load tickets: " + err.message;
    });
  }

  function section(parent, title, id) {
    var wrap = el("section", "detail-section");
    var h = el("h2", "section-title", title);
    h.id = id;
    wrap.setAttribute("aria-labelledby", id);
    wrap.appendChild(h);
    var box = el("div");
    wrap.appendChild(box);
    parent.appendChild(wrap);
    return box;
  }

  function ticketLink(id, text) {
    var b = el("button", "linklike", text || id);
    b.type = "button";
    b.addEventListener("click", function () { open(id); });
    return b;
  }

  function open(ticketId) {
    state.current = ticketId;
    options().forEach(function (li) {
      li.setAttribute("aria-selected", String(li.getAttribute("data-ticket-id") === ticketId));
    });
    var detail = document.getElementById("detail");
    detail.textContent = "";
    detail.appendChild(el("p", "muted", "Loading ticket " + ticketId + "…"));
    A.get("/v1/tickets/" + encodeURIComponent(ticketId)).then(function (t) {
      detail.textContent = "";
      var head = el("div", "toolbar");
      var h = el("h2", "ticket-title", t.subject || "Ticket " + t.id);
      h.id = "ticket-title";
      head.appendChild(h);
      head.appendChild(el("span", "badge ok", A.channel(t.channel)));
      head.appendChild(el("span", "badge", words(t.status)));
      detail.appendChild(head);
      var meta = [t.id, A.when(t.created_at)];
      if (t.order_id) { meta.push("order " + t.order_id); }
      meta.push(t.tags.length ? "reason: " + t.tags.map(words).join(", ") + (t.tag_source === "auto" ? " (auto-tagged)" : "")
                              : "no reason tag");
      detail.appendChild(el("p", "meta muted", meta.join(" · ")));
      detail.appendChild(el("p", "ticket-body", t.body));
      draftSection(section(detail, "Draft reply", "sec-draft"), t);
      duplicatesSection(section(detail, "Possible duplicates", "sec-dups"), t);
      timelineSection(section(detail, "Customer history", "sec-history"), t);
      articlesSection(section(detail, "Articles that answer each question", "sec-articles"), t);
      if (window.matchMedia("(max-width: 900px)").matches) { detail.scrollIntoView({ block: "start" }); }
    }).catch(function (err) {
      detail.textContent = "";
      detail.appendChild(el("div", "notice bad", err.status === 404 ? "No ticket " + ticketId + "." : err.message));
    });
  }

  function articlesSection(box, t) {
    var wait = el("p", "muted", "Finding articles for each question…");
    box.appendChild(wait);
    A.get("/v1/tickets/" + encodeURIComponent(t.id) + "/suggested-articles").then(function (r) {
      wait.remove();
      r.questions.forEach(function (q) {
        box.appendChild(el("h3", "section-subtitle", words(q.topic) + ": " + q.text));
        if (!q.articles.length) { box.appendChild(el("p", "muted", "No article answers this question.")); }
        q.articles.forEach(function (a) {
          var card = el("div", "dup"), link = el("a", null, a.title);
          link.href = "/help/articles/" + encodeURIComponent(a.id);
          link.target = "_blank";
          card.appendChild(link);
          card.appendChild(el("span", "meta muted", " " + Math.round(a.confidence * 100) + "% match"));
          var passage = el("p");
          passage.appendChild(document.createTextNode(a.passage.slice(0, a.highlight[0])));
          passage.appendChild(el("mark", null, a.passage.slice(a.highlight[0], a.highlight[1])));
          passage.appendChild(document.createTextNode(a.passage.slice(a.highlight[1])));
          card.appendChild(passage);
          box.appendChild(card);
        });
      });
    }).catch(function (err) { wait.textContent = "Suggestions unavailable: " + err.message; });
  }

  // A short line (name, how many identities of which kinds); why each was linked on demand.
  function identitySummary(h) {
    var live = h.identities.filter(function (i) { return !i.unlinked_at; });
    var kinds = {};
    live.forEach(function (i) { kinds[i.kind] = (kinds[i.kind] || 0) + 1; });
    var details = el("details", "identities");
    var summary = el("summary", null, h.name + " · " + live.length + (live.length === 1 ? " identity" : " identities") +
      (live.length ? " (" + Object.keys(kinds).map(function (k) { return words(k); }).join(", ") + ")" : ""));
    details.appendChild(summary);
    var ul = el("ul");
    live.forEach(function (i) {
      ul.appendChild(el("li", null, words(i.kind) + ": " + i.value + " — " + words(i.reason) + " (linked by " + i.linked_by + ")"));
    });
    details.appendChild(ul);
    return details;
  }

  function timelineSection(box, t) {
    if (!t.customer_id) { box.appendChild(el("p", "muted", "Not linked to a customer.")); return; }
    A.get("/v1/customers/" + t.customer_id + "/history").then(function (h) {
      box.appendChild(identitySummary(h));
      var ul = el("ul", "timeline");
      h.events.slice().reverse().forEach(function (ev) {
        var li = el("li");
        var meta = el("div", "meta", A.when(ev.at) + " · " + words(ev.kind) + (ev.channel ? " · " + A.channel(ev.channel) : "") + " · ");
        if (ev.kind === "message") {
          meta.appendChild(ev.ref === t.id ? el("strong", null, "this ticket") : ticketLink(ev.ref));
        } else {
          meta.appendChild(document.createTextNode(ev.ref));
        }
        li.appendChild(meta);
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
        top.appendChild(ticketLink(c.ticket_id, c.subject || c.ticket_id));
        top.appendChild(el("span", "badge " + (c.is_duplicate ? "warn" : "ok"),
                           (c.is_duplicate ? "likely duplicate " : "similar ") + Math.round(c.score * 100) + "%"));
        top.appendChild(el("span", "meta muted", A.channel(c.channel) + " · " + A.when(c.created_at)));
        card.appendChild(top);
        var reasons = el("ul");
        c.reasons.forEach(function (r) { reasons.appendChild(el("li", null, r)); });
        card.appendChild(reasons);
        var merge = el("button", "button secondary", "Merge with this ticket");
        merge.type = "button";
        merge.addEventListener("click", function () {
          merge.disabled = true;
          A.post("/v1/tickets/merge", { ticket_ids: [t.id, c.ticket_id], reason: "merged from the console" })
            .then(function (group) {
              card.textContent = "";
              card.appendChild(el("p", null, "Merged (group " + group.id + "). The reply goes to ticket " +
                                             group.primary_ticket_id + "."));
              var undo = el("button", "button secondary", "Undo merge");
              undo.type = "button";
              undo.addEventListener("click", function () {
                undo.disabled = true;
                A.post("/v1/tickets/merge/" + group.id + "/undo", { reason: "undone from the console" })
                  .then(function () {
                    card.textContent = "";
                    card.appendChild(el("p", "muted", "Merge undone."));
                    loadQueue(true);
                  }).catch(function (err) { undo.disabled = false; card.appendChild(el("div", "notice bad", err.message)); });
              });
              card.appendChild(undo);
              undo.focus();
              loadQueue(true);  // statuses changed: the queue shows them at once
            }).catch(function (err) { merge.disabled = false; card.appendChild(el("div", "notice bad", err.message)); });
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
                              d.compliance.passed ? "meets " + A.channel(d.channel) + " messaging rules"
                                                  : d.compliance.violations.length + " compliance warnings"));
        box.appendChild(status);
        var label = el("label", null, "Reply (editable)");
        label.htmlFor = "draft-text";
        box.appendChild(label);
        var text = el("textarea", "draft-text");
        text.id = "draft-text";
        text.value = d.reply;
        box.appendChild(text);
        // Tall enough for the whole draft: no scrolling inside a cut-off box.
        text.style.height = Math.max(220, text.scrollHeight + 4) + "px";
        var copy = el("button", "button secondary", "Copy reply");
        copy.type = "button";
        copy.addEventListener("click", function () {
          navigator.clipboard.writeText(text.value).then(function () { copy.textContent = "Copied"; },
                                                          function () { text.select(); });
        });
        box.appendChild(copy);
        // Every edit is checked again before it can be sent: violations, removed facts, unsourced facts.
        var editCheck = el("div", "edit-check");
        editCheck.setAttribute("aria-live", "polite");
        box.appendChild(editCheck);
        var pending = null;
        text.addEventListener("input", function () {
          if (pending) { clearTimeout(pending); }
          pending = setTimeout(function () {
            A.post("/v1/drafts/" + d.id + "/check", { text: text.value }).then(function (c) {
              editCheck.textContent = "";
              status.firstChild.className = "badge " + (c.ready_to_send ? "ok" : "warn");
              status.firstChild.textContent = c.ready_to_send ? "ready to send" : "needs review";
              var issues = el("ul");
              c.compliance.violations.forEach(function (v) {
                issues.appendChild(el("li", null, v.rule + ": “" + v.text + "” — " + v.explanation));
              });
              c.missing_facts.forEach(function (f) { issues.appendChild(el("li", null, "removed fact: " + f)); });
              c.fact_check.unsupported.forEach(function (f) { issues.appendChild(el("li", null, "no source for: " + f)); });
              if (issues.childNodes.length) {
                editCheck.appendChild(el("h3", "section-title", "Your edit"));
                editCheck.appendChild(issues);
              }
            }).catch(function (err) { editCheck.textContent = "Check unavailable: " + err.message; });
          }, 400);
        });
        if (d.needs_you && d.needs_you.length) {
          box.appendChild(el("h3", "section-title", "Needs you"));
          var todo = el("ul");
          d.needs_you.forEach(function (n) { todo.appendChild(el("li", null, (n.topic ? n.topic + ": " : "") + n.reason)); });
          box.appendChild(todo);
        }
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
          li.appendChild(el("span", "badge " + (q.status === "answered" ? "ok" : "warn"), words(q.status)));
          var why = q.status === "answered" ? q.source + " (confidence " + q.confidence.toFixed(2) + ")" : q.reason;
          li.appendChild(document.createTextNode(" " + q.text + " — " + why));
          cov.appendChild(li);
        });
        box.appendChild(el("h3", "section-subtitle", "Questions covered"));
        box.appendChild(cov);
        if (d.compliance.violations.length) {
          box.appendChild(el("h3", "section-subtitle", "Compliance warnings"));
          var warn = el("ul");
          d.compliance.violations.forEach(function (v) {
            warn.appendChild(el("li", null, v.rule + ": “" + v.text + "” — " + v.explanation));
          });
          box.appendChild(warn);
        }
        if (d.articles.length || d.facts.length) {
          box.appendChild(el("h3", "section-subtitle", "Sources"));
          var src = el("ul");
          d.facts.forEach(function (f) { src.appendChild(el("li", null, words(f.name) + ": " + f.value + " (" + f.source + ")")); });
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

  A.onReady(function () { layout(); loadQueue(true); });
})();
