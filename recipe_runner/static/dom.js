// Small DOM helpers shared by the views: text always goes in through textContent.

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// Labels given a colour of their own by config custom_theme.labels -> their place in that map:
// /recipe.css colours class lc<place> (theme.py).
const themed = new Map();

export function setLabelColours(theme) {
  themed.clear();
  const colours = (theme && theme.labels) || {};
  Object.keys(colours).forEach((label, i) => themed.set(label, i));
}

// A label's colour class: its own colour when the theme gives one, else its place among the
// run's labels, eight colours round.
export function labelColour(label, labels) {
  if (themed.has(label)) return `lc${themed.get(label)}`;
  const i = Math.max(0, (labels || []).indexOf(label));
  return `c${i % 8}`;
}

// A key badge (<kbd>) for a key name, or nothing when the item has no key.
export function kbd(key) {
  return el("kbd", null, key || "");
}
