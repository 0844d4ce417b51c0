// Battle viewer: the battle picked in the <select> is shown, the others hidden. A battle's
// turns are drawn from its embedded JSON (see viz/viewer.py) the first time it is shown:
// a slider (and the ← / → keys, when no form field has the focus) steps through its
// turns; each shows both teams with their HP, what happened, and the decisions taken.
// Every string from the data goes on the page as text (textContent), never as HTML.
(function () {
  "use strict";
  var select = document.getElementById("battle-select");
  if (!select) {
    return;
  }
  var STATUS = {brn: "BRN", par: "PAR", slp: "SLP", frz: "FRZ", psn: "PSN", tox: "TOX", fnt: "fainted"};
  var STATS = {atk: "Atk", def: "Def", spa: "SpA", spd: "SpD", spe: "Spe", accuracy: "Acc", evasion: "Eva"};
  var viewers = {};  // battle index -> its viewer, once drawn

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function typeBadge(type, extra) {
    var badge = el("span", "type type-" + String(type).toLowerCase() + (extra ? " " + extra : ""), type);
    return badge;
  }

  function chips(parent, className, items) {
    for (var i = 0; i < items.length; i++) {
      parent.appendChild(el("span", "chip " + className, items[i]));
    }
  }

  function fmtMs(ms) {
    if (ms === undefined || ms === null) {
      return "";
    }
    return ms >= 100 ? Math.round(ms).toLocaleString("en-US") + " ms" : Number(ms.toPrecision(3)) + " ms";
  }

  function hpClass(hp) {
    return hp > 50 ? "hp-high" : hp > 20 ? "hp-mid" : "hp-low";
  }

  // The HP each Pokémon had on the board before: to show what a turn cost.
  function hpBefore(step, side) {
    var out = {};
    var board = step && step.b && step.b[side];
    if (!board) {
      return out;
    }
    for (var i = 0; i < board.m.length; i++) {
      out[board.m[i][0]] = board.m[i][1];
    }
    return out;
  }

  function drawMon(data, side, entry, active, before) {
    var info = data.mons[side][entry[0]] || ["?", "?", []];
    var hp = entry[1];
    var status = entry[2] || "";
    var tera = entry[3];
    var li = el("li", "mon" + (active ? " active" : "") + (status === "fnt" ? " fainted" : ""));
    var head = el("div", "mon-head");
    head.appendChild(el("span", "mon-name", info[0]));
    if (info[1] && info[1] !== info[0]) {
      head.appendChild(el("span", "mon-species", info[1]));
    }
    var types = info[2] || [];
    for (var i = 0; i < types.length; i++) {
      head.appendChild(typeBadge(types[i], tera ? "replaced" : ""));
    }
    if (tera) {
      head.appendChild(typeBadge(tera, "tera")).title = "terastallized";
    }
    if (status) {
      head.appendChild(el("span", "status status-" + status, STATUS[status] || status));
    }
    if (active) {
      head.appendChild(el("span", "active-tag", "active"));
    }
    li.appendChild(head);
    var bar = el("div", "hpbar");
    var text;
    if (hp === null || hp === undefined) {
      bar.classList.add("hp-unseen");
      text = "not seen yet";
    } else {
      var prev = before[entry[0]];
      if (typeof prev === "number" && prev > hp) {
        var lost = el("div", "hp-lost");
        lost.style.width = prev + "%";
        bar.appendChild(lost);
      }
      var fill = el("div", "hp-fill " + hpClass(hp));
      fill.style.width = hp + "%";
      bar.appendChild(fill);
      text = hp + "%" + (typeof prev === "number" && prev !== hp ? " (was " + prev + "%)" : "");
    }
    bar.setAttribute("role", "img");
    bar.setAttribute("aria-label", "HP " + text);
    li.appendChild(bar);
    li.appendChild(el("div", "hp-text", text));
    return li;
  }

  function drawSide(data, side, step, prevStep) {
    var box = el("div", "side side-" + side);
    var board = (step.b && step.b[side]) || {m: [], u: 0, a: null};
    // The agent names the side; its Showdown username ("random p1 0101") says nothing to
    // a reader, so it is only the heading's tooltip.
    var user = data.players[side] || "";
    var heading = el("h4", null, side + " · " + (data.agents[side] || user || "?"));
    if (data.agents[side] && user) {
      heading.title = "Showdown user: " + user;
    }
    box.appendChild(heading);
    var conds = el("div", "conditions");
    chips(conds, "cond", board.c || []);
    box.appendChild(conds);
    var team = el("ol", "team");
    var before = hpBefore(prevStep, side);
    for (var i = 0; i < board.m.length; i++) {
      var li = drawMon(data, side, board.m[i], board.a === i, before);
      if (board.a === i) {
        var extra = el("div", "active-effects");
        var boosts = board.x || [];
        for (var j = 0; j < boosts.length; j++) {
          var stage = boosts[j][1];
          extra.appendChild(el("span", "chip boost " + (stage > 0 ? "up" : "down"),
            (STATS[boosts[j][0]] || boosts[j][0]) + " " + (stage > 0 ? "+" : "") + stage));
        }
        chips(extra, "volatile", board.v || []);
        if (extra.childNodes.length) {
          li.appendChild(extra);
        }
      }
      team.appendChild(li);
    }
    for (var k = 0; k < board.u; k++) {
      var unknown = el("li", "mon unknown");
      unknown.appendChild(el("div", "mon-head", "? not revealed yet"));
      team.appendChild(unknown);
    }
    box.appendChild(team);
    return box;
  }

  function drawDecision(d) {
    var item = el("li", "decision side-" + d.s + (d.fb ? " fallback" : ""));
    var head = el("div", "decision-head");
    head.appendChild(el("span", "decision-side", d.s));
    head.appendChild(el("code", "decision-action", d.a));
    head.appendChild(el("span", "decision-latency", fmtMs(d.ms)));
    if (d.src === "log") {
      head.appendChild(el("span", "decision-source", "read from the log"));
    }
    if (d.fb) {
      head.appendChild(el("span", "decision-fallback", "fallback" + (d.fb === true ? "" : ": " + d.fb)));
    }
    item.appendChild(head);
    if (d.c && d.c.length) {
      var table = el("table", "candidates");
      var body = el("tbody");
      for (var i = 0; i < d.c.length; i++) {
        var row = el("tr", d.c[i][0] === d.a ? "chosen" : "");
        row.appendChild(el("td", "cand-action", d.c[i][0]));
        var cell = el("td", "cand-bar");
        var bar = el("div", "prob");
        bar.style.width = Math.max(0, Math.min(1, d.c[i][1])) * 100 + "%";
        cell.appendChild(bar);
        row.appendChild(cell);
        row.appendChild(el("td", "num", (d.c[i][1] * 100).toFixed(1) + "%"));
        body.appendChild(row);
      }
      table.appendChild(body);
      item.appendChild(table);
      if (d.cn) {
        item.appendChild(el("p", "note", "top " + d.c.length + " of " + d.cn + " options"));
      }
    }
    if (d.r) {
      item.appendChild(el("p", "decision-reasoning", d.r));
    }
    return item;
  }

  function Viewer(article, data) {
    this.data = data;
    this.step = 0;
    var root = article.querySelector(".viewer");
    var steps = data.steps;
    this.root = root;
    if (steps.length) {
      var controls = el("div", "viewer-controls");
      this.prev = el("button", "step-prev", "◀");
      this.prev.type = "button";
      this.prev.setAttribute("aria-label", "previous turn");
      this.slider = el("input", "turn-slider");
      this.slider.type = "range";
      this.slider.min = "0";
      this.slider.max = String(steps.length - 1);
      this.slider.value = "0";
      this.slider.setAttribute("aria-label", "turn");
      this.next = el("button", "step-next", "▶");
      this.next.type = "button";
      this.next.setAttribute("aria-label", "next turn");
      this.label = el("span", "turn-label");
      controls.appendChild(this.prev);
      controls.appendChild(this.slider);
      controls.appendChild(this.next);
      controls.appendChild(this.label);
      controls.appendChild(el("span", "note keys-hint", "← / → step through the turns"));
      root.appendChild(controls);
      var self = this;
      this.slider.addEventListener("input", function () {
        self.show(Number(self.slider.value));
      });
      this.prev.addEventListener("click", function () {
        self.move(-1);
      });
      this.next.addEventListener("click", function () {
        self.move(1);
      });
    }
    this.board = el("div", "board");
    this.detail = el("div", "turn-detail");
    root.appendChild(this.board);
    root.appendChild(this.detail);
    if (steps.length) {
      this.show(0);
    } else {
      this.showAllDecisions();
    }
  }

  Viewer.prototype.move = function (delta) {
    this.show(this.step + delta);
  };

  Viewer.prototype.show = function (index) {
    var steps = this.data.steps;
    index = Math.max(0, Math.min(steps.length - 1, index));
    this.step = index;
    var step = steps[index];
    var prevStep = index > 0 ? steps[index - 1] : null;
    this.slider.value = String(index);
    this.label.textContent = step.label;
    this.label.setAttribute("data-step", String(index));
    this.root.setAttribute("data-turn", String(step.n));
    this.prev.disabled = index === 0;
    this.next.disabled = index === steps.length - 1;

    this.board.replaceChildren();
    var field = el("div", "field");
    field.appendChild(el("span", "board-caption", step.n < 0 ? "Teams brought" :
      step.n === 0 ? "On the field before turn 1" : "At the end of turn " + step.n));
    var b = step.b || {};
    if (b.w) {
      field.appendChild(el("span", "chip weather", b.w));
    }
    chips(field, "field-effect", b.f || []);
    this.board.appendChild(field);
    var sides = el("div", "sides");
    sides.appendChild(drawSide(this.data, "p1", step, prevStep));
    sides.appendChild(drawSide(this.data, "p2", step, prevStep));
    this.board.appendChild(sides);

    this.detail.replaceChildren();
    var events = el("div", "events");
    events.appendChild(el("h4", null, step.label + ": what happened"));
    var list = el("ul", "event-list");
    for (var i = 0; i < step.ev.length; i++) {
      var e = step.ev[i];
      list.appendChild(el("li", "ev ev-" + e[0] + (e[1] ? " side-" + e[1] : ""), e[2]));
    }
    if (index === steps.length - 1 && this.data.result) {
      list.appendChild(el("li", "ev ev-result", this.data.result));
    }
    events.appendChild(list);
    this.detail.appendChild(events);
    this.detail.appendChild(this.decisions(step.n >= 0 ? [step.n] : [], step.label));
  };

  Viewer.prototype.decisions = function (turns, label) {
    var box = el("div", "turn-decisions");
    box.appendChild(el("h4", null, "Decisions" + (label ? " of " + label.toLowerCase() : "")));
    var list = el("ol", "decision-list");
    for (var t = 0; t < turns.length; t++) {
      var ds = this.data.dec[String(turns[t])] || [];
      for (var i = 0; i < ds.length; i++) {
        list.appendChild(drawDecision(ds[i]));
      }
    }
    if (list.childNodes.length) {
      box.appendChild(list);
    } else {
      box.appendChild(el("p", "note", "No decision was recorded for this step."));
    }
    return box;
  };

  Viewer.prototype.showAllDecisions = function () {
    var turns = Object.keys(this.data.dec).map(Number).sort(function (a, b) { return a - b; });
    if (turns.length) {
      this.detail.appendChild(this.decisions(turns, ""));
    }
  };

  function viewerOf(article) {
    var index = article.getAttribute("data-index");
    if (!viewers[index]) {
      var script = article.querySelector("script.viewer-data");
      if (!script || !article.querySelector(".viewer")) {
        return null;
      }
      viewers[index] = new Viewer(article, JSON.parse(script.textContent));
    }
    return viewers[index];
  }

  function visibleArticle() {
    return document.querySelector("article.battle:not([hidden])");
  }

  function show() {
    var battles = document.querySelectorAll("article.battle");
    for (var i = 0; i < battles.length; i++) {
      battles[i].hidden = battles[i].getAttribute("data-index") !== select.value;
    }
    var article = visibleArticle();
    if (article) {
      viewerOf(article);
    }
  }

  // A link to #battle-N (a tournament's pair table) opens battle N in the viewer.
  function fromHash() {
    var match = /^#battle-(\d+)$/.exec(window.location.hash);
    if (match && select.querySelector('option[value="' + match[1] + '"]')) {
      select.value = match[1];
      show();
      document.getElementById("battle-" + match[1]).scrollIntoView();
    }
  }

  function inFormField(target) {
    if (!target || !target.tagName) {
      return false;
    }
    var tag = target.tagName.toUpperCase();
    return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") {
      return;
    }
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    if (inFormField(event.target)) {
      return;  // a slider or a text field moves its own way
    }
    var article = visibleArticle();
    var viewer = article && viewerOf(article);
    if (!viewer || !viewer.slider) {
      return;
    }
    viewer.move(event.key === "ArrowRight" ? 1 : -1);
    event.preventDefault();
  });

  select.addEventListener("change", show);
  window.addEventListener("hashchange", fromHash);
  show();
  fromHash();
})();
