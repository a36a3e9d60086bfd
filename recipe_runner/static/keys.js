// Keyboard shortcuts: a key names an action; the app decides what the action does.

const KEYS = {
  a: "accept",
  x: "reject",
  " ": "ignore",
  Backspace: "undo",
  h: "help",
  "?": "help",
  Escape: "close",
};

function typing(target) {
  if (!target || !target.tagName) return false;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || target.isContentEditable;
}

// handlers: {accept, reject, ignore, undo, save, help, close, digit(n)}
export function bindKeys(handlers) {
  document.addEventListener("keydown", (event) => {
    if (typing(event.target) || event.altKey) return;
    const key = event.key;
    if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "s") {
      event.preventDefault();
      handlers.save();
      return;
    }
    if (event.ctrlKey || event.metaKey) return;
    if (/^[1-9]$/.test(key)) {
      event.preventDefault();
      handlers.digit(Number(key));
      return;
    }
    const action = KEYS[key] || KEYS[key.toLowerCase()];
    if (!action) return;
    event.preventDefault();
    // A held key must not answer a run of tasks.
    if (event.repeat && action !== "undo") return;
    handlers[action]();
  });
}
