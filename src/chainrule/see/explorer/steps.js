// steps.js: the forward pass node by node and the backward pass edge by edge.
// The state is a mode ("all": everything computed; "fwd"; "bwd") and a step number. Each step shows what
// the engine computed at that point (embedded by page_data.py): a node's narration line going forward;
// upstream × local = sent, and the receiving node's running sum, going backward.
"use strict";
CR.steps = (function () {
  const PLAY_MS = 900;
  const state = { mode: "all", step: 0 };
  let timer = null;

  const count = (mode) => (mode === "fwd" ? CR.data.nodes.length : mode === "bwd" ? CR.data.backward.length : 0);

  // What the graph shows now: which values, which gradients (with "k/n arrived" notes), what is active.
  function shown() {
    const { nodes, edges, backward, output } = CR.data;
    const n = nodes.length;
    const s = { values: nodes.map(() => true), grads: nodes.map((node) => node.grad), notes: nodes.map(() => ""),
      activeNode: -1, activeEdge: -1 };
    if (state.mode === "fwd") {
      s.values = nodes.map((_, i) => i < state.step);
      s.grads = nodes.map(() => undefined);
      s.activeNode = state.step - 1;
    } else if (state.mode === "bwd") {
      // the output holds its seed; a node that gets no gradient says so; the others wait for theirs
      s.grads = nodes.map((node, i) => (i === output || node.grad === null ? node.grad : undefined));
      for (let k = 0; k < state.step; k++) {
        const step = backward[k], dst = edges[step.e].src;
        s.grads[dst] = step.run;
        s.notes[dst] = step.n < step.of ? "  (" + step.n + "/" + step.of + ")" : "";
      }
      if (state.step > 0) s.activeEdge = backward[state.step - 1].e;
    }
    return s;
  }

  function caption() {
    const { nodes, edges, backward, forward, output } = CR.data;
    const out = nodes[output].name, total = count(state.mode);
    const where = total ? CR.say("page.step", { index: String(state.step), count: String(total) }) + "   " : "";
    if (state.mode === "all") return CR.say("page.hint", {});
    if (state.mode === "fwd") {
      return where + (state.step === 0 ? CR.say("page.forward_start", {}) : CR.text(forward[state.step - 1]));
    }
    if (state.step === 0) return where + CR.say("page.backward_start", { out: out });
    const step = backward[state.step - 1], edge = edges[step.e];
    const line = CR.chain.stepLine(step);
    const running = CR.say("page.running", { out: out, input: nodes[edge.src].name, sum: step.run,
      count: String(step.n), total: String(step.of) });
    return where + line + "\n" + running;
  }

  function render() {
    CR.graph.refresh(shown());
    document.getElementById("caption").textContent = caption();
    document.getElementById("mode-fwd").classList.toggle("on", state.mode === "fwd");
    document.getElementById("mode-bwd").classList.toggle("on", state.mode === "bwd");
    document.getElementById("play").textContent = CR.say(timer ? "page.pause" : "page.play", {});
  }

  function go(mode, step) {
    state.mode = mode;
    state.step = Math.max(0, Math.min(step, count(mode)));
    render();
  }

  // Next: all → forward 1 → … → forward N → backward 0 → … → backward M (then it stays).
  function next() {
    if (state.mode === "all") return go("fwd", 1);
    if (state.step < count(state.mode)) return go(state.mode, state.step + 1);
    if (state.mode === "fwd") return go("bwd", 0);
    stop();
    return false;
  }

  function back() {
    if (state.mode === "bwd" && state.step === 0) return go("fwd", count("fwd"));
    if (state.mode !== "all") go(state.mode, state.step - 1);
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    render();
  }

  function play() {
    if (timer) return stop();
    if (state.mode === "all") go("fwd", 0);
    timer = setInterval(() => { if (next() === false) stop(); }, PLAY_MS);
    render();
  }

  function reset() {
    stop();
    go(state.mode === "all" ? "fwd" : state.mode, 0);
  }

  function init() {
    const on = (id, fn) => document.getElementById(id).addEventListener("click", () => fn());
    on("next", next); on("back", back); on("play", play); on("reset", reset);
    on("mode-fwd", () => { stop(); go("fwd", 0); });
    on("mode-bwd", () => { stop(); go("bwd", 0); });
    document.addEventListener("keydown", (event) => {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "ArrowRight") { next(); event.preventDefault(); }
      if (event.key === "ArrowLeft") { back(); event.preventDefault(); }
    });
    render();
  }

  return { init, render, state };
})();
