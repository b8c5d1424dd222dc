// chain.js: the chain rule as the panel and the captions write it, from explain's data (page_data.py):
// each path's symbols, the ops' symbolic local derivatives, their numbers, the path's product, and the sum.
"use strict";
CR.chain = (function () {
  const out = () => CR.data.nodes[CR.data.output].name;

  // ∂linear/∂k = x = 3.0, and the note that says a broadcast gradient was summed
  function localLine(e) {
    const edge = CR.data.edges[e];
    const line = edge.sym + (edge.local ? " = " + edge.local : "") + (edge.num ? " = " + CR.text(edge.num) : "");
    return [line].concat(edge.notes.map((n) => "· " + CR.text(n))).join("\n");
  }

  // The backward step along one edge: upstream × local = sent (for tensors: the vjp that sends it).
  function stepLine(s) {
    const edge = CR.data.edges[s.e], nodes = CR.data.nodes;
    const fields = { op: nodes[edge.dst].name, input: edge.label, out: out(), upstream: s.up, result: s.res };
    if (edge.num && CR.isNumber(s.up)) return CR.say("page.back_step", Object.assign(fields, { local: edge.num }));
    return CR.say("page.back_step_tensor", Object.assign(fields, { local: edge.local || edge.sym }));
  }

  // As explain writes a product: a negative number in brackets; a sum subtracts a negative term.
  const bracket = (t) => (t.startsWith("-") ? "(" + t + ")" : t);
  const factorNumber = (edge) => (edge.num ? bracket(CR.text(edge.num)) : edge.sym);
  const sum = (terms) => terms.reduce((acc, t, k) => (k === 0 ? t : t.startsWith("-") ? acc + " - " + t.slice(1) : acc + " + " + t), "");

  // path 1: ∂loss/∂sigmoid · ∂sigmoid/∂linear · ∂linear/∂k
  //       = -2(y-sigmoid)/n · σ(1-σ) · x
  //       = 0.4028 · 0.1538 · 3
  //       = 0.1858
  // A path of tensors: each step's vjp of g, the path as one formula, its value.
  function pathText(path, k) {
    const edges = path.e.map((e) => CR.data.edges[e]);
    const head = CR.say("explain.path", { index: String(k + 1) });
    const pad = " ".repeat(Math.max(head.length - 1, 1));
    const rows = [head + " " + edges.map((e) => e.sym).join(" · ")];
    if (path.f) {
      edges.forEach((e, j) => rows.push(pad + "→ " + CR.data.nodes[e.src].name + " " + CR.data.nodes[e.src].st + "  " + path.f[j]));
      if (path.x) rows.push(pad + CR.say("explain.formula", {}) + " " + path.x);
    } else {
      if (edges.some((e) => e.local)) rows.push(pad + "= " + edges.map((e) => e.lb || e.sym).join(" · "));
      rows.push(pad + "= " + edges.map(factorNumber).join(" · "));
    }
    rows.push(pad + "= " + CR.text(path.p));
    return rows.join("\n");
  }

  // One element's chain (explain with element=): each path a product of single elements' numbers.
  function elementPathText(path, k) {
    const head = CR.say("explain.path", { index: String(k + 1) });
    const pad = " ".repeat(Math.max(head.length - 1, 1));
    const rows = [head + " " + path.f.map((f) => f[0]).join(" · ")];
    if (path.f.some((f) => f[1])) rows.push(pad + "= " + path.f.map((f) => f[1] || f[0]).join(" · "));
    rows.push(pad + "= " + path.f.map((f) => bracket(CR.text(f[2]))).join(" · "));
    rows.push(pad + "= " + CR.text(path.p));
    return rows.join("\n");
  }

  function elementRule(cell) {
    if (cell.n === "0") return [];
    if (!cell.paths.length) {
      return cell.groups.map((g) => CR.say("explain.group", { symbol: g.s, count: g.n, value: g.v }));
    }
    const blocks = cell.paths.map(elementPathText);
    if (cell.paths.length > 1) {
      const terms = sum(cell.paths.map((p) => CR.text(p.p)));
      blocks.push(CR.say("explain.sum", { count: String(cell.paths.length) }) + " " + terms + " = " + CR.text(cell.g));
    }
    return blocks;
  }

  // explain's whole answer for ∂output/∂node, as a list of blocks {text, edges (a listed path's edges)}.
  function rule(node, ex) {
    const fields = { out: out(), wrt: node.name };
    const plain = (text) => ({ text: text });
    if (ex.self) return [plain(CR.say("explain.self", fields))];
    if (ex.n === "0") return [plain(CR.say("explain.none", fields))];
    if (!ex.paths.length) {
      const head = CR.say("explain.summary", Object.assign(fields, { count: ex.n, limit: String(CR.data.max_paths) }));
      return [plain(head)].concat(ex.groups.map((g) => plain(CR.say("explain.group",
        { symbol: CR.data.edges[g.e].sym, count: g.n, value: g.v }))));
    }
    const key = ex.n === "1" ? "explain.one_path" : "explain.paths";
    const blocks = [plain(CR.say(key, Object.assign(fields, { count: ex.n })))];
    ex.paths.forEach((p, k) => blocks.push({ text: pathText(p, k), edges: p.e }));
    for (const note of ex.notes) blocks.push(plain("· " + CR.text(note)));
    if (ex.paths.length > 1) {
      const head = CR.say("explain.sum", { count: String(ex.paths.length) });
      const terms = ex.paths.every((p) => CR.isNumber(p.p)) ? " " + sum(ex.paths.map((p) => CR.text(p.p))) + " =" : "";
      blocks.push(plain(head + terms + " " + CR.text(ex.g)));
    }
    return blocks;
  }

  return { localLine, stepLine, rule, elementRule, sum };
})();
