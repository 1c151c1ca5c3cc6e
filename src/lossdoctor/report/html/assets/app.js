/* lossdoctor report: draws the page model embedded in #lossdoctor-data (or served live).
   Every string from a log is written with textContent, never as markup. */
(function () {
  "use strict";
  var CONFIG = {
    displaylogo: false, responsive: true,
    toImageButtonOptions: { format: "png", filename: "lossdoctor", scale: 2 }
  };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function plot(div, fig, revision) {
    if (!fig) return;
    var layout = Object.assign({}, fig.layout, { uirevision: revision || "keep" });
    Plotly.react(div, fig.data, layout, CONFIG);
  }

  function draw(div, fig, revision) {
    plot(div, fig, revision);
    div.setAttribute("data-drawn-ms", String(Math.round(performance.now())));  /* for tests and benchmarks */
  }

  /* Plots below the fold are drawn when they come near the screen: a page with many cards opens fast. */
  var lazy = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      lazy.unobserve(entry.target);
      draw(entry.target, entry.target.__figure, entry.target.__revision);
    });
  }, { rootMargin: "400px" }) : null;

  /* Plots of the previous render by key: a live update redraws them in place (Plotly.react with the same
     uirevision), so a zoom or a hidden legend entry survives new steps arriving. */
  var previous = {};
  var current = {};

  function plotInto(parent, cls, fig, revision, deferred) {
    var old = previous[revision];
    if (old && old.hasAttribute("data-drawn-ms")) {
      delete previous[revision];
      current[revision] = old;
      parent.appendChild(old);
      draw(old, fig, revision);
      return old;
    }
    var div = el("div", "plot " + cls);
    current[revision] = div;
    parent.appendChild(div);
    if (deferred && lazy) {
      div.__figure = fig;
      div.__revision = revision;
      div.style.height = ((fig.layout && fig.layout.height) || 300) + "px";
      lazy.observe(div);
    } else {
      draw(div, fig, revision);
    }
    return div;
  }

  function card(parent, c, live, key) {
    var box = el("section", "card " + c.severity);
    parent.appendChild(box);  /* in the document before plotting, so the plot takes the card's width */
    box.id = "finding-" + c.rank;
    box.setAttribute("data-finding", c.id);
    box.style.borderLeftColor = c.colour;
    var head = el("header");
    var swatch = el("span", "swatch");
    swatch.style.background = c.colour;
    head.appendChild(swatch);
    head.appendChild(el("span", "rank", "#" + c.rank));
    head.appendChild(el("span", "cause", c.id));
    head.appendChild(el("span", "badge " + c.severity, c.severity));
    head.appendChild(el("span", "confidence", "confidence " + Number(c.confidence).toFixed(2)));
    if (live && c.first_seen !== undefined) head.appendChild(el("span", "first-seen", "first seen at step " + c.first_seen));
    box.appendChild(head);
    box.appendChild(el("h3", "title", c.title));
    if (c.evidence && c.evidence.length) {
      var ul = el("ul", "evidence");
      c.evidence.forEach(function (line) { ul.appendChild(el("li", null, line)); });
      box.appendChild(ul);
    }
    if (c.steps && c.steps.length) {
      var shown = c.steps.slice(0, 12).join(", ");
      var more = c.steps.length > 12 ? " … (+" + (c.steps.length - 12) + ")" : "";
      box.appendChild(el("p", "steps", "steps: " + shown + more));
    }
    if (c.fix && c.fix.length) {
      box.appendChild(el("h4", null, "fix"));
      var pre = el("pre", "fix");
      pre.appendChild(el("code", null, c.fix.join("\n")));
      box.appendChild(pre);
    }
    if (c.focus) plotInto(box, "focus", c.focus, key + "-focus-" + c.id, true);
  }

  function runSection(root, m, opts) {
    opts = opts || {};
    var src = m.source || {};
    var head = el("div", "source");
    head.appendChild(el("span", "path", src.path || ""));
    head.appendChild(el("span", "meta", " · " + (src.format || "?") + " · " + (src.steps || 0) + " loss points · series: " + (src.series || []).join(", ")));
    root.appendChild(head);
    var verdict = el("div", "verdict " + m.verdict);
    verdict.appendChild(el("strong", null, "verdict: "));
    verdict.appendChild(el("span", "verdict-text", m.verdict_text));
    root.appendChild(verdict);
    if (m.calm && m.calm.length) {
      var calm = el("ul", "calm");
      m.calm.forEach(function (line) { calm.appendChild(el("li", null, line)); });
      root.appendChild(calm);
    }
    if (opts.live) {
      var problems = (m.cards || []).filter(function (c) { return c.severity === "problem"; });
      var warn = el("div", "live-warnings");
      warn.appendChild(el("strong", null, problems.length ? "live warnings" : "no warnings so far"));
      if (problems.length) {
        var ul = el("ul");
        problems.forEach(function (c) {
          var at = c.first_seen !== undefined ? " (first seen at step " + c.first_seen + ")" : "";
          ul.appendChild(el("li", null, c.id + ": " + c.title + at));
        });
        warn.appendChild(ul);
      }
      root.appendChild(warn);
    }
    plotInto(root, "main", m.main, opts.revision || "main");
    var cards = el("div", "cards");
    root.appendChild(cards);
    (m.cards || []).forEach(function (c) { card(cards, c, opts.live, opts.revision || "main"); });
    (m.notes || []).forEach(function (n) { root.appendChild(el("p", "note", "note: " + n)); });
  }

  function compareSection(root, page) {
    var cmp = page.comparison;
    root.appendChild(el("h2", null, "how the fluctuation changes across runs"));
    plotInto(root, "main overlay", page.overlay, "overlay");
    var table = el("table", "comparison");
    var header = el("tr");
    ["run", cmp.parameter || "parameter (unknown)", "step-to-step scatter", "in loss units", "loss level",
      "ends above best", "verdict", "top finding", "file"].forEach(function (h) { header.appendChild(el("th", null, h)); });
    table.appendChild(header);
    cmp.rows.forEach(function (r) {
      var tr = el("tr");
      var first = el("td");
      var sw = el("span", "swatch");
      sw.style.background = r.colour;
      first.appendChild(sw);
      first.appendChild(document.createTextNode(r.label));
      tr.appendChild(first);
      [r.value === null ? "?" : r.value, r.scatter, r.absolute, r.level, r.climb, r.verdict, r.top || "none", r.path]
        .forEach(function (v) { tr.appendChild(el("td", null, v)); });
      table.appendChild(tr);
    });
    root.appendChild(table);
    var concl = el("p", "conclusion");
    concl.appendChild(el("strong", null, "conclusion: "));
    concl.appendChild(document.createTextNode(cmp.conclusion));
    root.appendChild(concl);
    var ev = el("ul", "evidence");
    cmp.evidence.forEach(function (line) { ev.appendChild(el("li", null, line)); });
    root.appendChild(ev);
    page.runs.forEach(function (m, i) {
      var details = el("details", "run");
      var drawnOpen = i === page.runs.length - 1;
      details.open = drawnOpen;
      details.appendChild(el("summary", null, m.label + " · " + m.verdict + " · " + ((m.source || {}).path || "")));
      root.appendChild(details);
      runSection(details, m, { revision: "run-" + i });
      details.addEventListener("toggle", function () {
        /* plots drawn while folded away had no width: size them once, when first shown */
        if (!details.open || drawnOpen) return;
        drawnOpen = true;
        details.querySelectorAll(".plot").forEach(function (div) { Plotly.Plots.resize(div); });
      });
    });
  }

  function render(page, live) {
    var root = document.getElementById("app");
    previous = current;
    current = {};
    root.textContent = "";
    var top = el("header", "top");
    top.appendChild(el("h1", null, "lossdoctor"));
    top.appendChild(el("span", "subtitle", page.title || ""));
    if (live) top.appendChild(el("span", "live-status", ""));
    root.appendChild(top);
    if (page.kind === "waiting") {
      root.appendChild(el("p", "waiting", "waiting for data: " + page.message));
    } else if (page.kind === "compare") {
      compareSection(root, page);
    } else {
      runSection(root, page.run, { live: live });
    }
    Object.keys(previous).forEach(function (key) {  /* plots that are gone: free Plotly's state */
      if (previous[key].hasAttribute("data-drawn-ms")) Plotly.purge(previous[key]);
      if (lazy) lazy.unobserve(previous[key]);
    });
    previous = {};
    root.setAttribute("data-rendered", "true");
    root.setAttribute("data-rendered-ms", String(Math.round(performance.now())));  /* for benchmarks */
  }

  function poll(page) {
    var live = page.live;
    var version = live.version;
    function status(text) {
      var s = document.querySelector(".live-status");
      if (s) s.textContent = text;
    }
    function tick() {
      fetch(live.api + "?since=" + encodeURIComponent(version), { cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (next) {
          if (next.live && next.live.version !== version) {
            version = next.live.version;
            render(next, true);
            document.getElementById("app").setAttribute("data-version", String(version));
          }
          var step = next.run && next.run.last_step !== null && next.run.last_step !== undefined ? next.run.last_step : null;
          status("live · " + (step !== null ? "last step " + step + " · " : "") + "checked " + new Date().toLocaleTimeString());
        })
        .catch(function () { status("live · the server is not answering; retrying"); })
        .then(function () { setTimeout(tick, live.interval_ms); });
    }
    document.getElementById("app").setAttribute("data-version", String(version));
    setTimeout(tick, live.interval_ms);
  }

  var page = JSON.parse(document.getElementById("lossdoctor-data").textContent);
  render(page, !!page.live);
  if (page.live) poll(page);
})();
