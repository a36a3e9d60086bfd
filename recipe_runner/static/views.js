// One render function per view_id, registered in VIEWS. Text always goes in through
// textContent; innerHTML is used for a task's `html` key and for an `html_template` (whose
// inserted values are escaped) only, so a task text of "<script>" is shown as text.

import { el, kbd, labelColour } from "./dom.js";
import { renderTemplate } from "./template.js";
import { gapAfter, prepareTokens, tokenNode, tokenSelection } from "./tokens.js";
import { blocksView } from "./view-blocks.js";
import { spansManualView, spansView } from "./view-spans.js";
import { textInputView } from "./view-text-input.js";
import { reviewView } from "./view-review.js";

export { el } from "./dom.js";

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

const URL_ATTRIBUTES = ["href", "src", "action", "formaction", "xlink:href"];
const SCRIPT_URL = /^(javascript|vbscript|data):/i;

// A template's HTML: the values it inserts are escaped, and a link they make can't run code.
function templateBlock(template, task) {
  const node = htmlBlock(renderTemplate(template, task));
  for (const item of node.querySelectorAll("*")) {
    for (const name of URL_ATTRIBUTES) {
      const value = item.getAttribute(name);
      // Browsers drop control characters and spaces in a URL's scheme: "java\tscript:".
      if (value && SCRIPT_URL.test(value.replace(/[\u0000-\u0020]/g, ""))) item.removeAttribute(name);
    }
  }
  return node;
}

// The task's `html`, or the `html_template` (of the block, else of the config) over the task.
function htmlView(task, ctx) {
  const template = task.html_template ?? ctx.config.html_template;
  return { node: typeof template === "string" ? templateBlock(template, task) : htmlBlock(task.html || "") };
}

function choiceView(task, ctx) {
  const node = el("div", "choice");
  if (typeof task.text === "string" || typeof task.html === "string") node.append(inputBlock(task, ctx));
  const options = task.options || [];
  if (!Array.isArray(task.accept)) task.accept = [];
  const list = el("ol", "options");
  const items = options.map((option, i) => {
    const item = el("li", "option");
    item.append(kbd(ctx.claimKey(String(option.id), () => toggle(i))), el("span", null, option.text ?? option.id));
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
    // A block (or a task) may set its own choice_style.
    if ((task.choice_style ?? ctx.choiceStyle) === "single") task.accept = chosen ? [] : [option.id];
    else task.accept = chosen ? task.accept.filter((id) => id !== option.id) : [...task.accept, option.id];
    paint();
  }
  paint();
  node.append(list);
  return { node };
}

function nerManualView(task, ctx) {
  const tokens = prepareTokens(task);
  const node = el("div", "task-text tokens");

  function add(from, to) {
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
        node.append(tokenNode(i, tokens, selection.anchor), gapAfter(task, tokens, i));
        continue;
      }
      const mark = el("mark", labelColour(span.label, ctx.labels));
      mark.title = `${span.label}: click to remove`;
      for (let j = span.token_start; j <= span.token_end; j++) {
        mark.append(tokenNode(j, tokens, selection.anchor));
        if (j < span.token_end) mark.append(gapAfter(task, tokens, j));
      }
      const tag = el("span", "span-label", span.label);
      tag.dataset.i = String(i);
      mark.append(tag);
      node.append(mark, gapAfter(task, tokens, span.token_end));
      i = span.token_end;
    }
  }

  const selection = tokenSelection(node, {
    other(event) {
      const tag = event.target.closest && event.target.closest(".span-label");
      if (!tag || !node.contains(tag)) return false;
      task.spans = task.spans.filter((s) => s.token_start !== Number(tag.dataset.i));
      paint();
      return true;
    },
    pick(from, to, single) {
      const hit = single ? spanAt(from) : null;
      if (hit) task.spans = task.spans.filter((s) => s !== hit);
      else add(from, to);
      paint();
    },
  });
  paint();
  return { node };
}

// view_id -> render(task, ctx) returning {node}. The view edits the task in place.
const VIEWS = {
  text: textView,
  classification: classificationView,
  choice: choiceView,
  ner: nerView,
  ner_manual: nerManualView,
  spans: spansView,
  spans_manual: spansManualView,
  html: htmlView,
  text_input: textInputView,
  blocks: (task, ctx) => blocksView(task, ctx, renderTask),
  review: reviewView,
};

// The views that mark spans with the run's labels (the page shows the label bar for them).
export const LABEL_VIEWS = new Set(["ner_manual", "spans_manual"]);

// ctx: {labels, config, choiceStyle, activeLabel(), claimKey(id, fn) -> key name or "", inBlock}.
export function renderTask(viewId, task, ctx) {
  const view = VIEWS[viewId] || textView;
  return view(task, ctx);
}
