// text.js: what the page writes. Sentences come from chainrule's phrase table (phrases.py), numbers from
// the engine; both were embedded as JSON by explore.py. Nothing here computes a number: it only picks the
// language (English / Chinese) and which of the two strings of each number to show (full / few digits).
"use strict";
const CR = { state: { lang: "en", full: false } };

// A number is [full precision, few digits]; a sentence {k: key, f: fields}; a tensor {t: cells, s: summary}.
CR.text = function (t) {
  if (t === null || t === undefined) return "—";
  if (typeof t === "string" || typeof t === "number") return String(t);
  if (Array.isArray(t)) return CR.state.full ? t[0] : t[1];
  if (t.k) return CR.say(t.k, t.f || {});
  if (t.t) return CR.text(t.s);
  return "";
};

// Fill one sentence of the phrase table in the page's language (Python's "{name}" fields).
CR.say = function (key, fields) {
  const forms = CR.data.phrases[key];
  if (!forms) throw new Error("no phrase " + key);
  return forms[CR.state.lang].replace(/\{(\w+)(?::([^}]*))?\}/g, (m, name, spec) => CR.field(fields[name], spec));
};

// One field with the table's format specs: "{count:path|paths}" writes the count with its noun,
// "{axes:en}" / "{axes:zh}" a list of axes (as phrases.py's Count and Axes do).
CR.field = function (value, spec) {
  if (spec && spec.includes("|")) {
    const [one, many] = spec.split("|");
    return String(value) + " " + (String(value) === "1" ? one : many);
  }
  if (Array.isArray(value) && (spec === "en" || spec === "zh")) {
    if (spec === "zh") return "第 " + value.join("、") + " 轴";
    return value.length === 1 ? "axis " + value[0] : "axes " + value.slice(0, -1).join(", ") + " and " + value[value.length - 1];
  }
  return CR.text(value);
};

CR.isNumber = (v) => Array.isArray(v);
CR.short = (v) => (Array.isArray(v) ? v[1] : CR.text(v));

// A small DOM helper: el("td", {class: "pick"}, "text" or children...).
CR.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
};

CR.svg = function (tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
};

// The name of one element of a tensor node: W[0, 2].
CR.elementName = (node, cell) => node.name + "[" + node.tab.idx[cell] + "]";
