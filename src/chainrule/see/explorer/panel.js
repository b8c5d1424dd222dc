// panel.js: the side panel for one clicked node: its formula, value, gradient ∂output/∂node, its local
// derivatives, the gradient arriving along each edge, and explain's chain rule: every path from the output
// down to the node with the product along it, and their sum. For a tensor, one element's share per path.
"use strict";
CR.panel = (function () {
  let current = null, picked = null;

  function show(i) {
    if (i !== current) picked = null;
    current = i;
    CR.graph.light(i);
    render();
  }

  function pick(cell) {
    picked = cell;
    render();
  }

  function render() {
    const panel = document.getElementById("panel");
    panel.replaceChildren();
    if (current === null) {
      panel.append(CR.el("p", { class: "hint" }, CR.say("page.hint", {})),
        CR.el("p", { class: "hint" }, CR.say("page.legend", { out: outName() })));
      return;
    }
    const node = CR.data.nodes[current], ex = CR.data.explain[current];
    panel.append(CR.el("h2", {}, node.name + "  (" + node.kind + ")"));
    if (node.formula) panel.append(section("page.formula", {}, pre(node.name + " = " + node.formula)));
    panel.append(section("page.value", {}, valueBlock(node.value, node, false)));
    if (!ex) {
      panel.append(CR.el("p", {}, CR.say("page.no_grad", { name: node.name })));
      return;
    }
    panel.append(section("page.gradient", { out: outName(), name: node.name }, valueBlock(node.grad, node, true)));
    if (node.tab && ex.paths !== undefined) panel.append(elementBlock(node, ex));
    const own = CR.graph.inEdges()[current];
    if (own.length) panel.append(section("page.own_locals", { name: node.name }, ...own.map((e) => pre(CR.chain.localLine(e)))));
    const arriving = CR.data.backward.filter((s) => CR.data.edges[s.e].src === current);
    if (arriving.length) panel.append(section("page.arriving", {}, ...arriving.map((s) => pre(CR.chain.stepLine(s)))));
    const heading = CR.el("h3", { class: "paths", title: "∂" + outName() + "/∂" + node.name }, "∂" + outName() + "/∂" + node.name);
    heading.addEventListener("click", () => CR.graph.light(current));  // every path lit again
    panel.append(heading, ...CR.chain.rule(node, ex).map(block));
  }

  const outName = () => CR.data.nodes[CR.data.output].name;
  const pre = (text) => CR.el("pre", {}, text);

  // A block of the chain rule; a listed path lights alone in the graph when clicked.
  function block(b) {
    const box = pre(b.text);
    if (b.edges) {
      box.classList.add("path");
      box.addEventListener("click", () => CR.graph.lightPath(current, b.edges));
    }
    return box;
  }

  function section(key, fields, ...body) {
    const box = CR.el("div", { class: "section", "data-key": key });
    box.append(CR.el("h3", {}, CR.say(key, fields)), ...body);
    return box;
  }

  // A number, or a tensor's table (its first entries, clickable for the gradient) and summary.
  function valueBlock(v, node, pickable) {
    if (v === null || v === undefined || CR.isNumber(v)) return CR.el("div", { class: "mono value" }, CR.text(v));
    const tab = node.tab, box = CR.el("div", { class: "tensor" });
    const head = CR.say("page.tensor", { shape: node.st }) + ((tab && (tab.mr || tab.mc))
      ? " " + CR.say("page.first_entries", { rows: String(tab.r), cols: String(tab.c) }) : "");
    box.append(CR.el("div", {}, head));
    if (tab) {
      const table = CR.el("table", {});
      for (let r = 0; r < tab.r; r++) {
        const row = CR.el("tr", {});
        for (let c = 0; c < tab.c; c++) {
          const j = r * tab.c + c;
          const td = CR.el("td", { title: CR.elementName(node, j), "data-cell": j,
            class: pickable ? "pick" + (j === picked ? " picked" : "") : null }, CR.text(v.t[j]));
          if (pickable) td.addEventListener("click", () => pick(j));
          row.append(td);
        }
        if (tab.mc) row.append(CR.el("td", {}, "…"));
        table.append(row);
      }
      if (tab.mr) table.append(CR.el("tr", {}, CR.el("td", {}, "⋮")));
      box.append(table);
    }
    box.append(CR.el("div", { class: "hint" }, CR.text(v.s)));
    return box;
  }

  // One element of a tensor's gradient: explain's chain through single elements (page_data.py computed
  // it for the entries of the table); past the page's budget, each path's share of that entry.
  function elementBlock(node, ex) {
    const box = CR.el("div", { class: "section element" });
    if (picked === null) {
      box.append(CR.el("p", { class: "hint" }, CR.say("page.pick", {})));
      return box;
    }
    const g = node.grad.t[picked];
    box.append(CR.el("h3", {}, CR.say("page.element", { out: outName(), name: node.name,
      index: node.tab.idx[picked], value: g })));
    if (ex.cells) {
      const cell = ex.cells[picked];
      const key = cell.n === "0" ? "explain.none" : cell.n === "1" ? "explain.one_path"
        : cell.paths.length ? "explain.paths" : "explain.summary";
      box.append(pre(CR.say(key, { out: outName(), wrt: CR.elementName(node, picked), count: cell.n,
        limit: String(CR.data.element_paths) })));
      if (cell.n !== "0") box.append(pre(CR.say("explain.element", {})), ...CR.chain.elementRule(cell).map(pre));
      return box;
    }
    box.append(pre(CR.say("page.shares", {})));
    const parts = ex.paths.length ? ex.paths.map((p) => p.p) : ex.groups.map((grp) => grp.v);
    parts.forEach((v, k) => {
      const label = ex.paths.length ? CR.say("explain.path", { index: String(k + 1) })
        : CR.say("explain.group", { symbol: CR.data.edges[ex.groups[k].e].sym, count: ex.groups[k].n, value: "" });
      box.append(pre(label + " " + CR.text(v.t[picked])));
    });
    if (parts.length > 1) {
      const terms = CR.chain.sum(parts.map((v) => CR.text(v.t[picked])));
      box.append(pre(CR.say("explain.sum", { count: String(parts.length) }) + " " + terms + " = " + CR.text(g)));
    }
    return box;
  }

  return { show, render, pick, current: () => current };
})();
