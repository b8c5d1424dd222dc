// chain.js: the chain rule as the panel and the captions write it, from explain's data (page_data.py):
// each path's symbols, the ops' symbolic local derivatives, their numbers, the path's product, and the sum.
"use strict";
CR.chain = (function () {
  const out = () => CR.data.nodes[CR.data.output].name;

  // ∂linear/∂k = x = 3.0
  function localLine(e) {
    const edge = CR.data.edges[e];
    return edge.sym + (edge.local ? " = " + edge.local : "") + (edge.num ? " = " + CR.text(edge.num) : "");
  }

  // The backward step along one edge: upstream × local = sent (for tensors: the vjp that sends it).
  function stepLine(s) {
    const edge = CR.data.edges[s.e], nodes = CR.data.nodes;
    const fields = { op: nodes[edge.dst].name, input: edge.label, out: out(), upstream: s.up, result: s.res };
    if (edge.num && CR.isNumber(s.up)) return CR.say("page.back_step", Object.assign(fields, { local: edge.num }));
    return CR.say("page.back_step_tensor", Object.assign(fields, { local: edge.local || edge.sym }));
  }

  // One factor's number: the local derivative, or "vjp (3, 2)→(2,)" for a tensor step.
  function factorNumber(edge) {
    if (edge.num) return CR.text(edge.num);
    const nodes = CR.data.nodes;
    return CR.say("explain.step", { src: nodes[edge.dst].st, dst: nodes[edge.src].st });
  }

  // path 1: ∂loss/∂sigmoid · ∂sigmoid/∂linear · ∂linear/∂k
  //       = -2(y-sigmoid)/n · σ(1-σ) · x
  //       = 0.4028 · 0.1538 · 3
  //       = 0.1858
  function pathText(path, k) {
    const edges = path.e.map((e) => CR.data.edges[e]);
    const head = CR.say("explain.path", { index: String(k + 1) });
    const pad = " ".repeat(Math.max(head.length - 1, 1));
    const rows = [head + " " + edges.map((e) => e.sym).join(" · ")];
    if (edges.some((e) => e.local)) rows.push(pad + "= " + edges.map((e) => e.local || e.sym).join(" · "));
    rows.push(pad + "= " + edges.map(factorNumber).join(" · "));
    rows.push(pad + "= " + CR.text(path.p));
    return rows.join("\n");
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
    if (ex.paths.length > 1) {
      const head = CR.say("explain.sum", { count: String(ex.paths.length) });
      const terms = ex.paths.every((p) => CR.isNumber(p.p)) ? " " + ex.paths.map((p) => CR.text(p.p)).join(" + ") + " =" : "";
      blocks.push(plain(head + terms + " " + CR.text(ex.g)));
    }
    return blocks;
  }

  return { localLine, stepLine, rule };
})();
