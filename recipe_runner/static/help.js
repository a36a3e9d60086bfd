// The help overlay: the keys, and the run's `instructions` (an HTML file, or Markdown rendered
// here by a small converter that escapes everything first).

function escape(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function inline(text) {
  return escape(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\*([^*]+)\*/g, "<em>$1</em>")
    .replace(/\[([^\]]+)\]\(((?:https?:\/\/|\/|#)[^)\s]*)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>');
}

export function markdown(source) {
  const out = [];
  let list = null;
  let para = [];
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join(" "))}</p>`);
    para = [];
    if (list) out.push(`<ul>${list.map((item) => `<li>${inline(item)}</li>`).join("")}</ul>`);
    list = null;
  };
  for (const line of source.split("\n")) {
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    const item = line.match(/^\s*[-*]\s+(.*)$/);
    if (heading) {
      flush();
      out.push(`<h${heading[1].length + 2}>${inline(heading[2])}</h${heading[1].length + 2}>`);
    } else if (item) {
      if (para.length) flush();
      (list = list || []).push(item[1]);
    } else if (!line.trim()) {
      flush();
    } else {
      if (list) flush();
      para.push(line.trim());
    }
  }
  flush();
  return out.join("\n");
}

const ACTIONS = {
  accept: "accept",
  reject: "reject",
  ignore: "ignore",
  undo: "undo the last answer not yet saved",
  save: "save now",
  help: "this help",
};

function keyCells(keys, what) {
  const row = document.createElement("tr");
  const cell = document.createElement("td");
  keys.forEach((key, i) => {
    const badge = document.createElement("kbd");
    badge.textContent = key;
    if (i) cell.append(" ");
    cell.append(badge);
  });
  const text = document.createElement("td");
  text.textContent = what;
  row.append(cell, text);
  return row;
}

// The help's table of keys, from the run's keymap: {actions: {key: action}, labels: {label: key}}.
export function showKeys(keymap) {
  const table = document.getElementById("help-keys");
  const byAction = {};
  for (const [key, action] of Object.entries(keymap.actions || {})) (byAction[action] ||= []).push(key);
  table.replaceChildren();
  for (const [action, what] of Object.entries(ACTIONS)) {
    if (byAction[action]) table.append(keyCells(byAction[action], what));
  }
  for (const [label, key] of Object.entries(keymap.labels || {})) {
    table.append(keyCells([key], `choose ${label}`));
  }
  table.append(keyCells(["1–9"], "choose an option / a label (their keys are shown beside them)"));
  table.append(keyCells(["escape"], "close the help; leave a text field (keys typed in it are text)"));
}

export function setupHelp(instructions) {
  const box = document.getElementById("instructions");
  if (instructions) {
    box.innerHTML = instructions.format === "html" ? instructions.text : markdown(instructions.text);
  }
  const overlay = document.getElementById("help");
  overlay.addEventListener("click", (event) => {
    if (event.target === overlay) overlay.hidden = true;
  });
  document.getElementById("help-button").addEventListener("click", () => toggleHelp());
}

export function toggleHelp(show) {
  const overlay = document.getElementById("help");
  overlay.hidden = show === undefined ? !overlay.hidden : !show;
}
