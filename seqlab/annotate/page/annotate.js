// seqlab annotate: the page. Keyboard-first span labelling over token boundaries; every answer is sent
// once with a key of its own (a retry after a network error cannot store it twice).
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token");
const state = {
  annotator: params.get("annotator") || localStorage.getItem("seqlab-annotator") || "annotator",
  labels: [], sentence: null, spans: [], selected: -1, cursor: 0, anchor: null, lastType: 0, busy: false,
};
const $ = (id) => document.getElementById(id);

function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
      return data;
    } catch (err) {
      if (attempt >= 2 || !(err instanceof TypeError)) throw err; // TypeError: the request did not get through
      await new Promise((done) => setTimeout(done, 500 * (attempt + 1)));
    }
  }
}

function say(text) { $("message").textContent = text || ""; }

function showProgress(p) {
  $("progress").textContent = `answered ${p.answered} (you ${p.mine}) · remaining ${p.remaining} of ${p.pool}`;
  const model = p.model
    ? `model v${p.model.version}, ` + (p.model.answers ? `trained on ${p.model.answers} answers` : "the model the session started from") + (p.model.dev_f1 == null ? "" : `, dev F1 ${(100 * p.model.dev_f1).toFixed(1)}`)
    : "no model yet: sentences come in seed or random order";
  const shown = state.sentence && state.sentence.suggestion ? ` · suggestions on this sentence from v${state.sentence.suggestion.model}` : "";
  $("model").textContent = `${model}${shown} · strategy ${p.strategy}${p.training ? " · retraining runs in the background" : ""}`;
}

function labelClass(label) { return "c" + (state.labels.indexOf(label) % 9); }

function render() {
  const box = $("sentence");
  box.textContent = "";
  const s = state.sentence;
  if (!s) { box.textContent = "Nothing left to annotate."; box.dataset.id = ""; return; }
  box.dataset.id = String(s.id);
  const points = Array.from(s.text); // offsets count code points (Python's str), not UTF-16 units
  const cut = (a, b) => points.slice(a, b).join("");
  const low = state.anchor === null ? -1 : Math.min(state.anchor, state.cursor);
  const high = state.anchor === null ? -1 : Math.max(state.anchor, state.cursor);
  let at = 0, k = 0;
  const confidences = new Map(((s.suggestion && s.suggestion.spans) || []).map((sp) => [sp.slice(0, 3).join(":"), sp[3]]));
  const tokenNode = (i) => {
    const el = document.createElement("span");
    el.className = "tok" + (i === state.cursor ? " cursor" : "") + (i >= low && i <= high ? " chosen" : "");
    el.dataset.i = String(i);
    el.textContent = cut(s.offsets[i][0], s.offsets[i][1]);
    return el;
  };
  for (let i = 0; i < s.tokens.length;) {
    box.append(document.createTextNode(cut(at, s.offsets[i][0])));
    const span = state.spans[k];
    if (span && span[0] === i) {
      const mark = document.createElement("mark");
      mark.className = "entity " + labelClass(span[2]) + (k === state.selected ? " selected" : "");
      Object.assign(mark.dataset, { start: span[0], end: span[1], label: span[2], index: k });
      for (let j = span[0]; j < span[1]; j++) {
        if (j > span[0]) mark.append(document.createTextNode(cut(s.offsets[j - 1][1], s.offsets[j][0])));
        mark.append(tokenNode(j));
      }
      const tag = document.createElement("sup");
      const confidence = confidences.get(span.slice(0, 3).join(":"));
      tag.textContent = span[2] + (confidence === undefined ? "" : ` ${confidence.toFixed(2)}`) + " ×";
      if (confidence !== undefined) mark.dataset.confidence = String(confidence);
      tag.title = "remove";
      tag.dataset.remove = String(k);
      mark.append(tag);
      box.append(mark);
      at = s.offsets[span[1] - 1][1];
      i = span[1];
      k++;
    } else {
      box.append(tokenNode(i));
      at = s.offsets[i][1];
      i++;
    }
  }
  box.append(document.createTextNode(cut(at)));
}

function show(sentence, spans) {
  state.sentence = sentence;
  state.spans = (spans || (sentence && sentence.suggestion ? sentence.suggestion.spans : []) || []).map((sp) => [sp[0], sp[1], sp[2]]);
  state.selected = -1; state.cursor = 0; state.anchor = null;
  render();
  $("sentence").focus();
}

function addSpan(start, end, label) {
  state.spans = state.spans.filter((sp) => sp[1] <= start || sp[0] >= end);
  state.spans.push([start, end, label]);
  state.spans.sort((a, b) => a[0] - b[0]);
  state.selected = state.spans.findIndex((sp) => sp[0] === start);
  state.anchor = null;
  render();
}

function spanAt(i) { return state.spans.findIndex((sp) => sp[0] <= i && i < sp[1]); }

function setType(index) {
  if (index >= state.labels.length) return;
  const label = state.labels[index];
  state.lastType = index;
  if (state.anchor !== null) {
    addSpan(Math.min(state.anchor, state.cursor), Math.max(state.anchor, state.cursor) + 1, label);
  } else if (state.selected >= 0) {
    state.spans[state.selected][2] = label; render();
  } else if (spanAt(state.cursor) >= 0) {
    state.selected = spanAt(state.cursor); state.spans[state.selected][2] = label; render();
  } else {
    addSpan(state.cursor, state.cursor + 1, label);
  }
}

function removeSpan(index) {
  if (index < 0) return;
  state.spans.splice(index, 1);
  state.selected = -1;
  render();
}

async function next() {
  const data = await api(`api/next?annotator=${encodeURIComponent(state.annotator)}`);
  show(data.sentence);
  showProgress(data.progress);
}

async function answer(action) {
  if (!state.sentence || state.busy) return;
  state.busy = true;
  try {
    const body = { key: newKey(), annotator: state.annotator, sentence: state.sentence.id, action,
      spans: action === "skip" ? [] : state.spans, model: state.sentence.suggestion ? state.sentence.suggestion.model : null };
    await api("api/answer", body);
    say("");
    await next();
  } catch (err) { say(String(err.message || err)); } finally { state.busy = false; }
}

async function undo() {
  if (state.busy) return;
  state.busy = true;
  try {
    const done = await api("api/undo", { key: newKey(), annotator: state.annotator });
    if (done.sentence === null) { say("nothing to undo"); return; }
    const data = await api(`api/sentence/${done.sentence}?annotator=${encodeURIComponent(state.annotator)}`);
    const mine = data.sentence.history.filter((h) => h.annotator === state.annotator && h.action !== "undo");
    const last = mine[mine.length - 1];
    show(data.sentence, last && last.action === "accept" ? last.spans : undefined);
    say("your last answer was taken back: answer this sentence again");
    showProgress((await api(`api/state?annotator=${encodeURIComponent(state.annotator)}`)));
  } catch (err) { say(String(err.message || err)); } finally { state.busy = false; }
}

function selectionToSpan() {
  const selection = window.getSelection();
  if (!selection || selection.isCollapsed) return;
  const hit = Array.from(document.querySelectorAll("#sentence .tok")).filter((el) => selection.containsNode(el, true)).map((el) => Number(el.dataset.i));
  selection.removeAllRanges();
  if (hit.length) addSpan(Math.min(...hit), Math.max(...hit) + 1, state.labels[state.lastType]);
}

function onKey(event) {
  if (event.target === $("annotator")) return;
  const s = state.sentence;
  if (/^[1-9]$/.test(event.key)) { setType(Number(event.key) - 1); event.preventDefault(); return; }
  if (event.key === "Enter") { answer("accept"); event.preventDefault(); return; }
  if (event.key === "s" || event.key === "S") { answer("skip"); event.preventDefault(); return; }
  if (event.key === "u" || event.key === "U" || (event.key === "z" && (event.ctrlKey || event.metaKey))) { undo(); event.preventDefault(); return; }
  if (!s) return;
  if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
    if (event.shiftKey && state.anchor === null) state.anchor = state.cursor;
    if (!event.shiftKey) state.anchor = null;
    state.cursor = Math.max(0, Math.min(s.tokens.length - 1, state.cursor + (event.key === "ArrowRight" ? 1 : -1)));
    state.selected = -1;
    render(); event.preventDefault(); return;
  }
  if (event.key === "Backspace" || event.key === "Delete") {
    removeSpan(state.selected >= 0 ? state.selected : spanAt(state.cursor)); event.preventDefault();
  }
}

async function start() {
  $("annotator").value = state.annotator;
  $("annotator").addEventListener("change", async () => {
    state.annotator = $("annotator").value.trim() || "annotator";
    localStorage.setItem("seqlab-annotator", state.annotator);
    await next();
  });
  document.addEventListener("keydown", onKey);
  $("sentence").addEventListener("mouseup", selectionToSpan);
  $("sentence").addEventListener("click", (event) => {
    const remove = event.target.dataset && event.target.dataset.remove;
    if (remove !== undefined) { removeSpan(Number(remove)); return; }
    const mark = event.target.closest && event.target.closest("mark.entity");
    if (mark) { state.selected = Number(mark.dataset.index); render(); return; }
    const tok = event.target.closest && event.target.closest(".tok");
    if (tok) { state.cursor = Number(tok.dataset.i); state.anchor = null; render(); }
  });
  $("accept").addEventListener("click", () => answer("accept"));
  $("skip").addEventListener("click", () => answer("skip"));
  $("undo").addEventListener("click", undo);
  const info = await api(`api/state?annotator=${encodeURIComponent(state.annotator)}`);
  state.labels = info.labels;
  $("labels").replaceChildren(...state.labels.map((label, i) => {
    const el = document.createElement("span");
    el.className = "label " + labelClass(label);
    el.textContent = `${i + 1} ${label}`;
    return el;
  }));
  await next();
  document.body.dataset.ready = "yes";
  setInterval(async () => { try { showProgress(await api(`api/state?annotator=${encodeURIComponent(state.annotator)}`)); } catch (err) { /* the next action says it */ } }, 5000);
}

start().catch((err) => say(String(err.message || err)));
