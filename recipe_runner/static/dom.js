// Small DOM helpers shared by the views: text always goes in through textContent.

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// A label's colour class: its place among the run's labels, eight colours round.
export function labelColour(label, labels) {
  const i = Math.max(0, (labels || []).indexOf(label));
  return `c${i % 8}`;
}

// A key badge (<kbd>) for a key name, or nothing when the item has no key.
export function kbd(key) {
  return el("kbd", null, key || "");
}
