// The text_input view: a free-text field whose text is stored in the task under `field_id`
// (default "user_input"), under the task's text when it is the whole card (a block leaves the
// text to the blocks around it). Keys typed in it never reach the page's shortcuts (keys.js).

import { el } from "./dom.js";

let fields = 0; // ids for the <label for> and <datalist> of each field

function setting(task, ctx, key, fallback) {
  return task[key] ?? ctx.config[key] ?? fallback;
}

export function textInputView(task, ctx) {
  const fieldId = String(setting(task, ctx, "field_id", "user_input"));
  const rows = Number(setting(task, ctx, "field_rows", 1)) || 1;
  const node = el("div", "text-input");
  if (!ctx.inBlock && typeof task.text === "string") node.append(el("div", "task-text", task.text));
  const id = `rr-field-${++fields}`;
  const label = setting(task, ctx, "field_label", null);
  if (label) {
    const caption = el("label", "field-label", label);
    caption.htmlFor = id;
    node.append(caption);
  }
  const input = el(rows > 1 ? "textarea" : "input", "field");
  input.id = id;
  if (rows > 1) input.rows = rows;
  else input.type = "text";
  input.placeholder = setting(task, ctx, "field_placeholder", "") || "";
  input.dataset.field = fieldId;
  input.value = typeof task[fieldId] === "string" ? task[fieldId] : "";
  task[fieldId] = input.value;
  input.addEventListener("input", () => {
    task[fieldId] = input.value;
  });
  const suggestions = setting(task, ctx, "field_suggestions", null);
  if (Array.isArray(suggestions) && suggestions.length && rows === 1) {
    const list = el("datalist");
    list.id = `${id}-suggestions`;
    for (const text of suggestions) {
      const option = el("option");
      option.value = String(text);
      list.append(option);
    }
    input.setAttribute("list", list.id);
    node.append(list);
  }
  node.append(input);
  if (setting(task, ctx, "field_autofocus", false)) {
    // The card is put on the page right after it is rendered.
    queueMicrotask(() => input.isConnected && input.focus());
  }
  return { node };
}
