"""A recipe's look: config `custom_theme`, `card_css` and `global_css` written as one stylesheet,
served at /recipe.css (a resource of its own, so that the page needs no inline style)."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ConfigError, closest

# custom_theme key -> the page's CSS variable. Numbers are pixels.
THEME = {
    "bgPage": "--bg",
    "bgCard": "--card",
    "colorText": "--ink",
    "colorMuted": "--muted",
    "colorAccent": "--accent",
    "colorAccept": "--accept",
    "colorReject": "--reject",
    "colorIgnore": "--ignore",
    "cardMaxWidth": "--card-max-width",
    "cardMinHeight": "--card-min-height",
    "largeText": "--large-text",
    "mediumText": "--medium-text",
    "smallText": "--small-text",
}
# custom_theme "labels": {LABEL: colour}: the page gives the label the class lc<i>, i being its
# place in that map (static/dom.js), and the stylesheet gives the class its colour.
LABEL_CLASS = "lc"
# Nothing in a value may end the declaration or the rule it is written into.
UNSAFE = re.compile(r"[;{}<>]|/\*")


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(
            f"Config '{where}' must be a string or a number, not {json.dumps(value)}."
        )
    text = f"{value:g}px" if isinstance(value, int | float) else value.strip()
    if not text or UNSAFE.search(text):
        raise ConfigError(f"Config '{where}': {json.dumps(value)} is not a CSS value.")
    return text


def _declarations(styles: dict[str, Any], where: str) -> list[str]:
    out = []
    for name, value in styles.items():
        if not re.fullmatch(r"-?-?[a-zA-Z][a-zA-Z0-9-]*", str(name)):
            raise ConfigError(f"Config '{where}': {name!r} is not a CSS property name.")
        out.append(f"  {name}: {_value(value, f'{where}.{name}')};")
    return out


def _label_rules(colours: Any) -> list[str]:
    """The rules of custom_theme "labels" (Prodigy's form): a colour per label."""
    if not isinstance(colours, dict):
        raise ConfigError(
            "Config 'custom_theme.labels' maps each label to a colour, "
            'e.g. {"PERSON": "#ffd882"}.'
        )
    return [
        f".{LABEL_CLASS}{i} {{ background: {_value(colour, f'custom_theme.labels.{label}')}; }}"
        for i, (label, colour) in enumerate(colours.items())
    ]


def recipe_css(config: dict[str, Any]) -> str:
    """The stylesheet of config `custom_theme`, `card_css` and `global_css` ("" without them).
    A theme key the page does not know is a ConfigError with the closest one."""
    parts = []
    theme = config.get("custom_theme") or {}
    if theme:
        lines = []
        for key, value in theme.items():
            if key == "labels":
                parts.extend(_label_rules(value))
                continue
            if key not in THEME:
                hint = closest(str(key), [*THEME, "labels"])
                known = [*THEME, "labels"]
                more = f" Did you mean '{hint[0]}'?" if hint else f" Use: {', '.join(known)}."
                raise ConfigError(f"Config 'custom_theme': unknown key {key!r}.{more}")
            lines.append(f"  {THEME[key]}: {_value(value, f'custom_theme.{key}')};")
        if lines:
            parts.insert(0, ":root {\n" + "\n".join(lines) + "\n}")
    card = config.get("card_css")
    if isinstance(card, dict) and card:
        parts.append("#card {\n" + "\n".join(_declarations(card, "card_css")) + "\n}")
    elif isinstance(card, str) and card.strip():
        if re.search(r"[{}]", card):
            raise ConfigError("Config 'card_css': write declarations only, without braces.")
        parts.append("#card {\n  " + card.strip() + "\n}")
    if config.get("global_css"):
        parts.append(str(config["global_css"]))
    return "\n".join(parts) + ("\n" if parts else "")
