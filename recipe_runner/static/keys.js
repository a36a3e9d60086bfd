// Keyboard shortcuts: a key names an action (config `keymap`, resolved by the server) or a
// label / option of the card on screen; the app decides what each does.

// A keydown as the key names of the keymap: "a", "space", "backspace", "ctrl+s"...
export function keyName(event) {
  const key = event.key === " " ? "space" : event.key.toLowerCase();
  return event.ctrlKey || event.metaKey ? `ctrl+${key}` : key;
}

function typing(target) {
  if (!target || !target.tagName) return false;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || target.isContentEditable;
}

// The keys of one card: its labels' and options' keys, claimed as they are drawn. An item named
// in `keymap_by_label` gets its own key; the others get 1-9 in the order they are drawn.
export class CardKeys {
  constructor(byLabel) {
    this.byLabel = byLabel || {};
    this.handlers = new Map();
    this.next = 1;
  }

  claim(id, handler) {
    let key = this.byLabel[id];
    if (!key || this.handlers.has(key)) key = this.next <= 9 ? String(this.next++) : "";
    if (key) this.handlers.set(key, handler);
    return key;
  }

  press(name) {
    const handler = this.handlers.get(name);
    if (handler) handler();
    return Boolean(handler);
  }
}

// actions: {key: action}; handlers: {accept, reject, ignore, undo, save, help, close,
// card(name) -> whether the card took the key}.
export function bindKeys(actions, handlers) {
  document.addEventListener("keydown", (event) => {
    if (event.altKey) return;
    const name = keyName(event);
    if (typing(event.target)) {
      // Typing is never a shortcut: only escape (leave the field) and ctrl combinations act.
      if (name === "escape") event.target.blur();
      if (!name.startsWith("ctrl+")) return;
    }
    if (name === "escape") {
      handlers.close();
      return;
    }
    const action = actions[name];
    if (!action && !name.startsWith("ctrl+") && handlers.card(name)) {
      event.preventDefault();
      return;
    }
    if (!action) return;
    event.preventDefault();
    // A held key must not answer a run of tasks.
    if (event.repeat && action !== "undo") return;
    handlers[action]();
  });
}
