// graph.js: the graph as SVG. Boxes and curves sit where Python's layout put them (layout.py); each box
// shows the node's name, kind, value and gradient (a number, or a tensor's shape and first entries).
"use strict";
CR.graph = (function () {
  const LINE_H = 15, PAD = 10, BOX_ROWS = 2, BOX_COLS = 3, FORMULA_CHARS = 28;  // as in page_data.py
  let groups = [], paths = [], inEdges = [];

  function build(svg) {
    const data = CR.data;
    svg.setAttribute("viewBox", "0 0 " + data.size[0] + " " + data.size[1]);
    const defs = CR.svg("defs");
    for (const [id, color] of [["arrow", "#9ca3af"], ["arrow-lit", "#dc2626"], ["arrow-active", "#ea580c"]]) {
      const marker = CR.svg("marker", { id: id, viewBox: "0 0 10 10", refX: "1", refY: "5",
        markerWidth: "9", markerHeight: "9", orient: "auto", markerUnits: "userSpaceOnUse" });
      marker.append(CR.svg("path", { d: "M0,0 L10,5 L0,10 z", fill: color }));
      defs.append(marker);
    }
    svg.append(defs);
    const edgeLayer = CR.svg("g"), nodeLayer = CR.svg("g");
    svg.append(edgeLayer, nodeLayer);
    inEdges = data.nodes.map(() => []);
    paths = data.edges.map((e, i) => {
      inEdges[e.dst].push(i);
      const p = CR.svg("path", { d: curve(e.pts), class: "edge" + (e.fw ? "" : " nograd"),
        "data-src": data.nodes[e.src].name, "data-dst": data.nodes[e.dst].name, "data-i": i });
      const title = CR.svg("title");
      title.textContent = e.sym + (e.local ? " = " + e.local : "");
      p.append(title);
      edgeLayer.append(p);
      return p;
    });
    groups = data.nodes.map((node, i) => {
      const g = CR.svg("g", { class: "node " + node.role + (i === data.output ? " output" : ""),
        "data-name": node.name, "data-i": i });
      const [x, y, w, h] = node.box;
      g.append(CR.svg("rect", { x: x - w / 2, y: y - h / 2, width: w, height: h, rx: 6 }));
      nodeLayer.append(g);
      return g;
    });
    svg.addEventListener("click", (event) => {
      const g = event.target.closest("g.node");
      if (g) CR.panel.show(Number(g.dataset.i));
    });
  }

  // Small graphs shrink to fit the view (never below MIN_SCALE, so text stays readable); big ones scroll.
  const MIN_SCALE = 0.6;
  function fit() {
    const view = document.getElementById("graph"), svg = document.getElementById("svg"), [w, h] = CR.data.size;
    const scale = Math.max(MIN_SCALE, Math.min(1, (view.clientWidth - 4) / w, (view.clientHeight - 4) / h));
    svg.setAttribute("width", (w * scale).toFixed(1));
    svg.setAttribute("height", (h * scale).toFixed(1));
  }

  function curve(pts) {
    let d = "M" + pts[0][0] + "," + pts[0][1];
    for (let i = 1; i + 2 < pts.length; i += 3) {
      d += " C" + pts[i].join(",") + " " + pts[i + 1].join(",") + " " + pts[i + 2].join(",");
    }
    return d;
  }

  // The lines of one box: name, kind (and formula), then value and gradient, or "?" where not yet known.
  function lines(node, shown, i) {
    const head = node.formula ? node.kind + ": " + node.formula : node.kind;
    const out = [["name", node.name], ["kind", head.length > FORMULA_CHARS ? head.slice(0, FORMULA_CHARS) + "…" : head]];
    addValue(out, "value", CR.say("page.value", {}), shown.values[i] ? node.value : undefined, node);
    addValue(out, "grad", CR.say("page.grad", {}), shown.grads[i], node, shown.notes[i]);
    return out;
  }

  function addValue(out, cls, label, v, node, note) {
    if (v === undefined || v === null) {
      out.push([cls + " hidden", label + " " + (v === undefined ? "?" : "—")]);
      if (node.tab) for (let r = 0; r < Math.min(node.tab.r, BOX_ROWS); r++) out.push([cls + " hidden", ""]);
      return;
    }
    if (CR.isNumber(v)) { out.push([cls, label + " " + CR.text(v) + (note || "")]); return; }
    out.push([cls, label + " " + node.st + (note || "")]);
    const tab = node.tab;
    if (!tab) return;
    for (let r = 0; r < Math.min(tab.r, BOX_ROWS); r++) {
      const cells = v.t.slice(r * tab.c, r * tab.c + Math.min(tab.c, BOX_COLS)).map(CR.short);
      const more = tab.c > BOX_COLS || tab.mc || (r === BOX_ROWS - 1 && (tab.r > BOX_ROWS || tab.mr));
      out.push([cls, cells.join(" ") + (more ? " …" : "")]);
    }
  }

  // Rewrite every box's text for the current step, language and precision.
  function refresh(shown) {
    CR.data.nodes.forEach((node, i) => {
      const g = groups[i];
      for (const t of Array.from(g.querySelectorAll("text"))) t.remove();
      const [x, y, , h] = node.box;
      lines(node, shown, i).forEach(([cls, str], k) => {
        const t = CR.svg("text", { x: x, y: y - h / 2 + PAD / 2 + LINE_H * (k + 0.8), class: cls,
          "text-anchor": "middle" });
        t.textContent = str;
        g.append(t);
      });
      g.classList.toggle("active", shown.activeNode === i);
    });
    paths.forEach((p, i) => p.classList.toggle("active", shown.activeEdge === i));
    const active = shown.activeEdge >= 0 ? paths[shown.activeEdge] : shown.activeNode >= 0 ? groups[shown.activeNode] : null;
    if (active) active.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  // The chain-rule paths from the output down to node `target`: edges on some path, found by walking the
  // topological order twice (which nodes reach the target, which the output reaches). No numbers.
  function pathsTo(target) {
    const { nodes, edges, output } = CR.data;
    const down = nodes.map((_, i) => i === target), up = nodes.map((_, i) => i === output);
    for (let i = 0; i < nodes.length; i++) {
      if (!down[i]) down[i] = inEdges[i].some((e) => edges[e].fw && down[edges[e].src]);
    }
    for (let i = nodes.length - 1; i >= 0; i--) {
      if (up[i] && down[i] && i !== target) for (const e of inEdges[i]) if (edges[e].fw) up[edges[e].src] = true;
    }
    const litEdges = edges.map((e) => e.fw && up[e.dst] && down[e.dst] && down[e.src] && e.dst !== target);
    return { edges: litEdges, nodes: nodes.map((_, i) => up[i] && down[i]) };
  }

  // Light every path from the output to `target`, or (lightPath) just the edges of one of them.
  function light(target) {
    paint(target, target === null ? null : pathsTo(target));
  }

  function lightPath(target, edgeIds) {
    const { nodes, edges } = CR.data, on = new Set(edgeIds);
    const litNodes = nodes.map((_, i) => i === target || edgeIds.some((e) => edges[e].dst === i));
    paint(target, { edges: edges.map((_, i) => on.has(i)), nodes: litNodes });
  }

  function paint(target, lit) {
    paths.forEach((p, i) => p.classList.toggle("lit", !!lit && lit.edges[i]));
    groups.forEach((g, i) => {
      g.classList.toggle("lit", !!lit && lit.nodes[i]);
      g.classList.toggle("selected", i === target);
    });
  }

  // A graph too big for the view starts scrolled to its output, where backpropagation starts.
  function showOutput() {
    groups[CR.data.output].scrollIntoView({ block: "center", inline: "center" });
  }

  return { build, fit, showOutput, refresh, light, lightPath, inEdges: () => inEdges };
})();
