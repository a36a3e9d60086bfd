"""The web view's keys: the default key of each action, config `keymap` (an action's keys) and
`keymap_by_label` (a key per label or option), checked so that no key does two things."""

from __future__ import annotations

import json
from typing import Any

from .errors import ConfigError, closest

# action -> its default keys. Key names are KeyboardEvent.key names, lowercased, with "space"
# for " " and "ctrl+" for ctrl or cmd.
DEFAULT_KEYS: dict[str, list[str]] = {
    "accept": ["a"],
    "reject": ["x"],
    "ignore": ["space"],
    "undo": ["backspace"],
    "save": ["ctrl+s"],
    "help": ["h", "?"],
}
# Keys that keep one meaning: escape leaves a text field or closes the help; 1-9 choose the
# labels and options that have no key of their own, in the order the page shows them.
RESERVED = {"escape": "close the help / leave a text field"} | {
    str(n): "choose a label or option by its number" for n in range(1, 10)
}
NAMED = {
    "space",
    "enter",
    "backspace",
    "delete",
    "tab",
    "escape",
    "arrowleft",
    "arrowright",
    "arrowup",
    "arrowdown",
    "home",
    "end",
    "pageup",
    "pagedown",
    "insert",
    *(f"f{n}" for n in range(1, 13)),
}
ALIASES = {
    " ": "space",
    "esc": "escape",
    "del": "delete",
    "return": "enter",
    "left": "arrowleft",
    "right": "arrowright",
    "up": "arrowup",
    "down": "arrowdown",
}
MODIFIERS = {"ctrl": "ctrl", "control": "ctrl", "cmd": "ctrl", "meta": "ctrl"}


def normalise(key: Any, where: str) -> str:
    """A key name as the page matches it ("Ctrl+S" -> "ctrl+s", " " -> "space"); an error
    naming `where` for a key the page could never see."""
    if not isinstance(key, str) or not key:
        raise ConfigError(f"Config '{where}': a key must be a non-empty string, not {key!r}.")
    prefix = ""
    name = key if key == " " else key.strip()
    head, plus, rest = name.partition("+")
    if plus and rest and head.lower() in MODIFIERS:
        prefix, name = "ctrl+", rest
    lowered = ALIASES.get(name.lower(), name.lower())
    if len(lowered) == 1 or lowered in NAMED:
        return prefix + lowered
    hint = closest(lowered, sorted(NAMED))
    more = f" Did you mean '{hint[0]}'?" if hint else ""
    raise ConfigError(
        f"Config '{where}': unknown key {key!r}: use one character, a key name such as "
        f"'enter' or 'arrowleft', optionally with 'ctrl+'.{more}"
    )


def resolve_keys(config: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{"actions": {key: action}, "labels": {label or option id: key}} for the page, from the
    defaults, `keymap` and `keymap_by_label`. A key given two meanings is a ConfigError naming
    both."""
    keymap = config.get("keymap") or {}
    actions = {action: list(keys) for action, keys in DEFAULT_KEYS.items()}
    for action, keys in keymap.items():
        if action not in actions:
            hint = closest(str(action), list(actions))
            more = f"Did you mean '{hint[0]}'?" if hint else f"Use one of: {', '.join(actions)}."
            raise ConfigError(f"Config 'keymap': unknown action {action!r}. {more}")
        given = keys if isinstance(keys, list) else [keys]
        actions[action] = [normalise(k, f"keymap.{action}") for k in given]
    meaning: dict[str, str] = dict(RESERVED)
    resolved: dict[str, str] = {}

    def claim(key: str, what: str) -> None:
        if key in meaning and meaning[key] != what:
            raise ConfigError(
                f"Config 'keymap': key '{key}' is mapped to both {meaning[key]} and {what}. "
                "Give one of them another key."
            )
        meaning[key] = what

    for action, keys in actions.items():
        for key in keys:
            claim(key, action)
            resolved[key] = action
    labels: dict[str, str] = {}
    for label, key in (config.get("keymap_by_label") or {}).items():
        name = normalise(key, f"keymap_by_label.{label}")
        claim(name, f"label {json.dumps(label)}")
        labels[str(label)] = name
    return {"actions": resolved, "labels": labels}
