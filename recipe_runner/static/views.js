// One render function per view_id. Text always goes in through textContent; innerHTML is used
// for a task's `html` key only, so a task text of "<script>" is shown as text.

import { reviewView } from "./review.js";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function labelColour(label, labels) {
  const i = Math.max(0, (labels || []).indexOf(label));
  return `c${i % 8}`;
}

function htmlBlock(html) {
  const node = el("div", "task-html");
  node.innerHTML = html;
  return node;
}

// Text with character-offset spans marked; overlapping spans after the first are left out.
export function textWithSpans(text, spans, labels) {
  const node = el("div", "task-text");
  const sorted = (spans || [])
    .filter((s) => Number.isInteger(s.start) && Number.isInteger(s.end) && s.end > s.start)
    .sort((a, b) => a.start - b.start);
  let at = 0;
  for (const span of sorted) {
    if (span.start < at) continue;
    node.append(text.slice(at, span.start));
    const mark = el("mark", labelColour(span.label, labels), text.slice(span.start, span.end));
    if (span.label) mark.append(el("span", "span-label", span.label));
    node.append(mark);
    at = span.end;
  }
  node.append(text.slice(at));
  return node;
}

function inputBlock(task, ctx) {
  if (typeof task.text === "string") return textWithSpans(task.text, task.spans, ctx.labels);
  if (typeof task.html === "string") return htmlBlock(task.html);
  return el("div", "task-text empty", "(this task has no text)");
}

function textView(task, ctx) {
  return { node: inputBlock(task, ctx) };
}

function classificationView(task, ctx) {
  const node = el("div", "classification");
  if (task.label) node.append(el("div", `task-label ${labelColour(task.label, ctx.labels)}`, task.label));
  node.append(inputBlock(task, ctx));
  return { node };
}

function nerView(task, ctx) {
  const node = el("div", "ner");
  node.append(textWithSpans(task.text || "", task.spans, ctx.labels));
  return { node };
}

function htmlView(task) {
  return { node: htmlBlock(task.html || "") };
}

function choiceView(task, ctx) {
  const node = el("div", "choice");
  node.append(inputBlock(task, ctx));
  const options = task.options || [];
  if (!Array.isArray(task.accept)) task.accept = [];
  const list = el("ol", "options");
  const items = options.map((option, i) => {
    const item = el("li", "option");
    item.append(el("kbd", null, i < 9 ? String(i + 1) : ""), el("span", null, option.text ?? option.id));
    item.addEventListener("click", () => toggle(i));
    list.append(item);
    return item;
  });
  const paint = () =>
    options.forEach((option, i) => items[i].classList.toggle("selected", task.accept.includes(option.id)));
  function toggle(i) {
    const option = options[i];
    if (!option) return;
    const chosen = task.accept.includes(option.id);
    if (ctx.choiceStyle === "single") task.accept = chosen ? [] : [option.id];
    else task.accept = chosen ? task.accept.filter((id) => id !== option.id) : [...task.accept, option.id];
    paint();
  }
  paint();
  node.append(list);
  return { node, digit: (n) => toggle(n - 1) };
}

// Tokens for a task that has none: words and punctuation, with their character offsets.
export function tokensOf(task) {
  if (Array.isArray(task.tokens) && task.tokens.length) return task.tokens;
  const text = task.text || "";
  const tokens = [];
  for (const match of text.matchAll(/\w+|[^\w\s]/gu)) {
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

function nerManualView(task, ctx) {
  const tokens = tokensOf(task);
  task.tokens = tokens;
  task.spans = (task.spans || []).flatMap((span) => {
    const range = spanTokens(span, tokens);
    return range ? [{ ...span, token_start: range[0], token_end: range[1] }] : [];
  });
  const node = el("div", "task-text tokens");
  let anchor = null; // token where the last selection started, for shift-click
  let down = null;

  function add(a, b) {
    const [from, to] = a <= b ? [a, b] : [b, a];
    const label = ctx.activeLabel();
    if (!label) return;
    // A new span replaces the spans it overlaps.
    task.spans = task.spans.filter((s) => s.token_end < from || s.token_start > to);
    task.spans.push({ start: tokens[from].start, end: tokens[to].end, label, token_start: from, token_end: to });
    task.spans.sort((x, y) => x.start - y.start);
  }

  const spanAt = (i) => task.spans.find((s) => s.token_start <= i && i <= s.token_end);

  function paint() {
    node.replaceChildren();
    for (let i = 0; i < tokens.length; i++) {
      const span = task.spans.find((s) => s.token_start === i);
      if (!span) {
        node.append(tokenNode(i, true));
        continue;
      }
      const mark = el("mark", labelColour(span.label, ctx.labels));
      mark.title = `${span.label}: click to remove`;
      for (let j = span.token_start; j <= span.token_end; j++) mark.append(tokenNode(j, j < span.token_end));
      const tag = el("span", "span-label", span.label);
      tag.dataset.i = String(i);
      mark.append(tag);
      node.append(mark);
      node.append(gapAfter(span.token_end));
      i = span.token_end;
    }
  }

  // What follows a token: the text up to the next one (tokens of Prodigy's files have no `ws`).
  function gapAfter(i) {
    const token = tokens[i];
    const next = tokens[i + 1];
    if (typeof task.text === "string" && next) return task.text.slice(token.end, next.start);
    return token.ws ? " " : "";
  }

  function tokenNode(i, spaced) {
    const item = el("span", i === anchor ? "token anchor" : "token", tokens[i].text);
    item.dataset.i = String(i);
    const gap = spaced ? gapAfter(i) : "";
    if (!gap) return item;
    const wrap = document.createDocumentFragment();
    wrap.append(item, gap);
    return wrap;
  }

  const indexAt = (target, selector) => {
    const item = target && target.closest ? target.closest(selector) : null;
    return item && node.contains(item) ? Number(item.dataset.i) : null;
  };

  node.addEventListener("mousedown", (event) => {
    down = indexAt(event.target, ".token");
    if (down !== null) event.preventDefault(); // no text selection while dragging
  });
  node.addEventListener("mouseup", (event) => {
    const tag = indexAt(event.target, ".span-label");
    const up = indexAt(event.target, ".token");
    const start = down;
    down = null;
    if (tag !== null) {
      task.spans = task.spans.filter((s) => s.token_start !== tag);
    } else if (up === null || start === null) {
      return;
    } else if (event.shiftKey && anchor !== null) {
      add(anchor, up);
    } else if (start !== up) {
      add(start, up);
    } else if (spanAt(up)) {
      const hit = spanAt(up);
      task.spans = task.spans.filter((s) => s !== hit);
    } else {
      add(up, up);
    }
    anchor = tag === null && start === up ? up : null;
    paint();
  });
  paint();
  return { node, digit: (n) => ctx.selectLabel(n - 1) };
}

const VIEWS = {
  text: textView,
  classification: classificationView,
  choice: choiceView,
  ner: nerView,
  ner_manual: nerManualView,
  html: htmlView,
  review: reviewView,
};

// ctx: {labels, choiceStyle, activeLabel(), selectLabel(i)}; the view edits the task in place.
export function renderTask(viewId, task, ctx) {
  const view = VIEWS[viewId] || textView;
  return view(task, ctx);
}
