// The review view: every version annotators gave, side by side with the sessions that gave
// it, above an editor pre-filled with the version most sessions gave. Clicking a version puts
// it in the editor; accept saves what the editor holds, with the versions.

import { el } from "./dom.js";
import { renderTask, textWithSpans } from "./views.js";

// The keys a version carries that are no part of what the reviewer edits.
const NOT_CONTENT = new Set(["answer", "sessions", "_input_hash", "_task_hash"]);

function summary(version, view, ctx) {
  const node = el("div", "review-content");
  if (Array.isArray(version.spans) && typeof version.text === "string") {
    node.append(textWithSpans(version.text, version.spans, ctx.labels));
  } else if (typeof version.text === "string") {
    node.append(el("div", "task-text", version.text));
  }
  if (typeof version.label === "string") node.append(el("div", "task-label", version.label));
  if (Array.isArray(version.options)) {
    const chosen = new Set((version.accept || []).map(String));
    const picked = version.options.filter((o) => chosen.has(String(o.id))).map((o) => o.text ?? o.id);
    node.append(el("div", "review-choices", picked.length ? picked.join(", ") : "(nothing chosen)"));
  }
  return node;
}

export function reviewView(task, ctx) {
  const view = task.review_view_id || "text";
  const versions = Array.isArray(task.versions) ? task.versions : [];
  const node = el("div", "review");
  const list = el("div", "review-versions");
  const editor = el("div", "review-editor");
  let inner = null;
  let chosen = 0;

  function paintEditor() {
    inner = renderTask(view, task, ctx);
    editor.replaceChildren(el("div", "review-editor-title", "Your answer"), inner.node);
  }

  function choose(i) {
    const version = versions[i];
    if (!version) return;
    chosen = i;
    for (const key of ["spans", "accept", "label"]) delete task[key];
    for (const [key, value] of Object.entries(version)) {
      if (!NOT_CONTENT.has(key)) task[key] = structuredClone(value);
    }
    paintVersions();
    paintEditor();
  }

  function paintVersions() {
    list.replaceChildren();
    versions.forEach((version, i) => {
      const box = el("div", `review-version${i === chosen ? " chosen" : ""}`);
      const head = el("div", "review-head");
      head.append(
        el("span", `review-answer ${version.answer}`, version.answer === "accept" ? "✓" : "✗"),
        el("span", "review-sessions", (version.sessions || []).join(", ")),
      );
      box.append(head, summary(version, view, ctx));
      box.title = "Put this version in the editor";
      box.addEventListener("click", () => choose(i));
      list.append(box);
    });
  }

  paintVersions();
  paintEditor();
  node.append(list, editor);
  return {
    node,
    // Digits go to the editor (its options or labels).
    digit: (n) => inner && inner.digit && inner.digit(n),
  };
}
