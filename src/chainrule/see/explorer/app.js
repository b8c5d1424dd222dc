// app.js: start the page: read the embedded data, label the buttons, draw the graph, wire the toggles.
"use strict";
(function () {
  const LABELS = { "mode-fwd": "page.forward", "mode-bwd": "page.backward", next: "page.next", back: "page.back",
    reset: "page.reset", lang: "page.other_lang" };

  // Everything in the current language and precision, written again.
  function relabel() {
    document.documentElement.lang = CR.state.lang === "zh" ? "zh-CN" : "en";
    for (const [id, key] of Object.entries(LABELS)) document.getElementById(id).textContent = CR.say(key, {});
    document.getElementById("digits").textContent = CR.say(CR.state.full ? "page.digits_short" : "page.digits_full", {});
    const title = CR.say("page.title", { out: CR.data.nodes[CR.data.output].name });
    document.getElementById("title").textContent = title;
    document.title = title;
    CR.steps.render();
    CR.panel.render();
  }

  function start() {
    CR.data = JSON.parse(document.getElementById("cr-data").textContent);
    CR.state.lang = CR.data.lang;
    CR.graph.build(document.getElementById("svg"));
    CR.graph.fit();
    window.addEventListener("resize", CR.graph.fit);
    CR.steps.init();
    document.getElementById("lang").addEventListener("click", () => {
      CR.state.lang = CR.state.lang === "en" ? "zh" : "en";
      relabel();
    });
    document.getElementById("digits").addEventListener("click", () => {
      CR.state.full = !CR.state.full;
      relabel();
    });
    relabel();
    CR.graph.showOutput();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
