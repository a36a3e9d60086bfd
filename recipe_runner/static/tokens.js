// Tokens of a task and the mouse selection over them, shared by ner_manual and spans_manual.

import { el } from "./dom.js";

// Tokens for a task that has none: words and punctuation, with their character offsets.
export function tokensOf(task) {
  if (Array.isArray(task.tokens) && task.tokens.length) return task.tokens;
  const text = task.text || "";
  const tokens = [];
  // Letters of any script: JavaScript's \w is ASCII only, and would split "Zürich" in three.
  for (const match of text.matchAll(/[\p{L}\p{M}\p{N}_]+|[^\p{L}\p{M}\p{N}_\s]/gu)) {
    const start = match.index;
    const end = start + match[0].length;
    tokens.push({ text: match[0], start, end, id: tokens.length, ws: /\s/.test(text[end] || "") });
  }
  return tokens;
}

function spanTokens(span, tokens) {
  if (Number.isInteger(span.token_start) && Number.isInteger(span.token_end)) return [span.token_start, span.token_end];
  const first = tokens.findIndex((t) => t.start >= span.start);
  let last = -1;
  tokens.forEach((t, i) => {
    if (t.end <= span.end) last = i;
  });
  return first >= 0 && last >= first ? [first, last] : null;
}

// The task's tokens and spans, each span with its token_start / token_end (set on the task).
export function prepareTokens(task) {
  const tokens = tokensOf(task);
  task.tokens = tokens;
  task.spans = (task.spans || []).flatMap((span) => {
    const range = spanTokens(span, tokens);
    return range ? [{ ...span, token_start: range[0], token_end: range[1] }] : [];
  });
  return tokens;
}

// What follows token i: the text up to the next one (tokens of Prodigy's files have no `ws`).
export function gapAfter(task, tokens, i) {
  const token = tokens[i];
  const next = tokens[i + 1];
  if (typeof task.text === "string" && next) return task.text.slice(token.end, next.start);
  return token.ws ? " " : "";
}

export function tokenNode(i, tokens, anchor) {
  const item = el("span", i === anchor ? "token anchor" : "token", tokens[i].text);
  item.dataset.i = String(i);
  return item;
}

// Mouse selection over the `.token` children of `node`: drag from one token to another, or
// click one and shift-click another. pick(from, to, single, shifted) gets the token range
// (single: one click on one token; shifted: a shift-click from the anchor); other(event) may take a click first (say, on a span's tag) and return
// true. The returned state's `anchor` is the token a shift-click would start from.
export function tokenSelection(node, { pick, other }) {
  const state = { anchor: null };
  let down = null;
  const indexAt = (target) => {
    const item = target && target.closest ? target.closest(".token") : null;
    return item && node.contains(item) ? Number(item.dataset.i) : null;
  };
  node.addEventListener("mousedown", (event) => {
    down = indexAt(event.target);
    if (down === null) return;
    event.preventDefault(); // no text selection while dragging (nor a change of focus, so:)
    const focused = document.activeElement;
    if (focused && focused !== document.body && focused.blur) focused.blur();
  });
  node.addEventListener("mouseup", (event) => {
    const start = down;
    down = null;
    if (other && other(event)) {
      state.anchor = null;
      return;
    }
    const up = indexAt(event.target);
    if (up === null || start === null) return;
    const shifted = event.shiftKey && state.anchor !== null;
    const from = shifted ? state.anchor : start;
    pick(Math.min(from, up), Math.max(from, up), !shifted && start === up, shifted);
    state.anchor = start === up ? up : null;
  });
  return state;
}
