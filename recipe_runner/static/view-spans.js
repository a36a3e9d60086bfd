// The spans_manual view: spans over tokens that may overlap and nest. Each span is drawn as a
// bar in a lane under its tokens (overlapping spans in lanes one under another), with its label
// at its first token; a click on a span's bar or label removes it. New spans are made as in
// ner_manual (drag, or click then shift-click) and never replace the spans they overlap.

import { el, labelColour } from "./dom.js";
import { gapAfter, prepareTokens, tokenNode, tokenSelection } from "./tokens.js";

// Each span's lane: the first lane free over its tokens. Longer spans first at one start, so
// that a span nested in another sits under it.
function assignLanes(spans) {
  const ends = [];
  const lane = new Array(spans.length);
  const order = spans.map((_, i) => i);
  order.sort((a, b) => spans[a].token_start - spans[b].token_start || spans[b].token_end - spans[a].token_end);
  for (const i of order) {
    let free = ends.findIndex((end) => end < spans[i].token_start);
    if (free < 0) free = ends.push(-1) - 1;
    ends[free] = spans[i].token_end;
    lane[i] = free;
  }
  return { lane, depth: ends.length };
}

export function spansManualView(task, ctx) {
  return spanLanes(task, ctx, true);
}

// The spans view (Prodigy's read-only one): the same lanes, so overlapping spans all show, and
// nothing to click.
export function spansView(task, ctx) {
  return spanLanes(task, ctx, false);
}

function spanLanes(task, ctx, editable) {
  const tokens = prepareTokens(task);
  const node = el("div", "task-text tokens spans");
  let clicked = null; // the span the last single click made
  let selection = null; // the mouse selection (an editable view's)

  // The lanes under token i (gap: under the gap after it, where a span goes on past it).
  function lanesAt(i, gap, lanes) {
    const box = el("span", "lanes");
    const cells = Array.from({ length: lanes.depth }, () => box.appendChild(el("span", "lane")));
    task.spans.forEach((span, s) => {
      if (span.token_start > i || span.token_end < (gap ? i + 1 : i)) return;
      const bar = el("i", `bar ${labelColour(span.label, ctx.labels)}`);
      if (editable) {
        bar.dataset.s = String(s);
        bar.title = `${span.label}: click to remove`;
      }
      cells[lanes.lane[s]].append(bar);
      if (!gap && span.token_start === i) {
        const tag = el("span", "span-tag", editable ? `${span.label} ×` : span.label);
        if (editable) {
          tag.dataset.s = String(s);
          tag.title = `${span.label}: click to remove`;
        }
        cells[lanes.lane[s]].append(tag);
      }
    });
    return box;
  }

  function paint() {
    const lanes = assignLanes(task.spans);
    node.classList.toggle("has-spans", lanes.depth > 0);
    node.replaceChildren();
    for (let i = 0; i < tokens.length; i++) {
      const word = el("span", "st");
      word.append(tokenNode(i, tokens, selection && selection.anchor), lanesAt(i, false, lanes));
      node.append(word);
      const gap = gapAfter(task, tokens, i);
      if (!gap) continue;
      const after = el("span", "sg");
      after.append(el("span", "gap", gap), lanesAt(i, true, lanes));
      node.append(after);
    }
  }

  if (!editable) {
    paint();
    return { node };
  }
  selection = tokenSelection(node, {
    other(event) {
      const hit = event.target.closest && event.target.closest("[data-s]");
      if (!hit || !node.contains(hit)) return false;
      const s = Number(hit.dataset.s);
      task.spans = task.spans.filter((_, i) => i !== s);
      paint();
      return true;
    },
    pick(from, to, single, shifted) {
      const label = ctx.activeLabel();
      // A shift-click grows the one-token span its anchor click made, rather than adding one.
      if (shifted && clicked && task.spans.includes(clicked)) task.spans = task.spans.filter((s) => s !== clicked);
      clicked = null;
      const same = (s) => s.token_start === from && s.token_end === to && s.label === label;
      if (label && !task.spans.some(same)) {
        const span = { start: tokens[from].start, end: tokens[to].end, label, token_start: from, token_end: to };
        task.spans.push(span);
        task.spans.sort((x, y) => x.start - y.start || y.end - x.end);
        if (single) clicked = span;
      }
      paint();
    },
  });
  paint();
  return { node };
}
