// The entity viewer: sends the text to /v1/tag and marks each entity inside the text as typed, using the
// character offsets the service returns. No external requests: everything comes from this server.
"use strict";

const $ = (id) => document.getElementById(id);

function colour(type) {
  let hash = 0;
  for (const ch of type) hash = (hash * 31 + ch.codePointAt(0)) % 360;
  return `hsl(${hash}, 70%, 82%)`;
}

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function entity(text, span) {
  const mark = element("mark", { class: "entity", "data-type": span.type, style: `--colour: ${colour(span.type)}` }, [text]);
  mark.append(element("span", { class: "label", text: span.type }));
  if (span.confidence !== undefined) {
    mark.dataset.confidence = span.confidence.toFixed(3);
    mark.title = `${span.type}, confidence ${span.confidence.toFixed(3)}`;
    mark.append(element("span", { class: "confidence", text: span.confidence.toFixed(2) }));
    mark.append(element("span", { class: "bar", style: `width: ${(100 * span.confidence).toFixed(0)}%` }));
  }
  return mark;
}

function render(text, sentences) {
  const spans = sentences.flatMap((s) => s.spans).sort((a, b) => a.start_char - b.start_char);
  const out = $("result");
  out.replaceChildren();
  // Offsets count code points (Python's str), not UTF-16 units: an emoji or 𝐀 is one of them here too.
  const points = Array.from(text);
  const cut = (a, b) => points.slice(a, b).join("");
  let at = 0;
  for (const span of spans) {
    out.append(cut(at, span.start_char), entity(cut(span.start_char, span.end_char), span));
    at = span.end_char;
  }
  out.append(cut(at));
  const rows = sentences.flatMap((s) => s.tokens.map((token, k) => element("tr", {}, [
    element("td", { text: token }), element("td", { text: s.tags[k] }), element("td", { text: s.probs ? s.probs[k].toFixed(4) : "" }),
  ])));
  $("tokens").replaceChildren(element("table", {}, [element("tr", {}, ["token", "tag", "probability"].map((h) => element("th", { text: h }))), ...rows]));
  $("nbest").replaceChildren(...sentences.map((s, k) => element("div", {}, [
    element("h3", { text: `Sentence ${k + 1}: the ${s.nbest ? s.nbest.length : 0} best tag sequences` }),
    element("ol", { class: "nbest" }, (s.nbest || []).map((alt) => element("li", { text: `p=${alt.prob.toFixed(4)}  ${alt.tags.join(" ")}` }))),
  ])));
  toggle();
}

function toggle() {
  $("tokens").hidden = !$("show-probs").checked;
  $("nbest").hidden = !$("show-nbest").checked;
}

async function tag(text) {
  $("status").textContent = "";
  const response = await fetch("/v1/tag", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ texts: [text], probs: true, nbest: 3, split_sentences: $("split").checked }),
  });
  const answer = await response.json();
  if (!response.ok) {
    $("status").textContent = answer.error;
    return;
  }
  render(text, answer.results[0]);
  document.body.dataset.tagged = "yes";
}

async function start() {
  const model = await (await fetch("/v1/model")).json();
  const scores = model.metrics && model.metrics.test ? `, test F1 ${model.metrics.test.f1.toFixed(3)}` : "";
  $("model").textContent = `model ${model.name}: ${model.model.cell} encoder, ${model.model.decoder} decoder${scores}`;
  $("tagset").textContent = `Tags: ${model.tags.join(" ")}`;
  $("form").addEventListener("submit", (event) => { event.preventDefault(); tag($("text").value); });
  $("show-probs").addEventListener("change", toggle);
  $("show-nbest").addEventListener("change", toggle);
  const query = new URLSearchParams(location.search);
  if (query.get("details") === "1") {
    $("show-probs").checked = true;
    $("show-nbest").checked = true;
  }
  const given = query.get("text");
  if (given !== null) {
    $("text").value = given;
    await tag(given);
  }
}

start();
