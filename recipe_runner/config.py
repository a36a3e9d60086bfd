"""Layered configuration: defaults, $RR_HOME/rr.json, ./rr.json, the recipe, env vars, the CLI."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, closest

# key -> (default, accepted types); None in the types means null is accepted.
SCHEMA: dict[str, tuple[Any, tuple[type | None, ...]]] = {
    "batch_size": (10, (int,)),
    "host": ("127.0.0.1", (str,)),
    "port": (8080, (int,)),
    "show_stats": (False, (bool,)),
    "feed_overlap": (False, (bool,)),
    "history_size": (10, (int,)),
    "instant_submit": (False, (bool,)),
    "exclude_by": ("task", (str,)),
    "auto_exclude_current": (True, (bool,)),
    "total_examples_target": (None, (int, None)),
    "instructions": (None, (str, None)),
    "labels": (None, (list, None)),
    "claim_timeout": (3600, (int, float)),
    "shared_claims": (False, (bool,)),
    "db": ("sqlite", (str,)),
    "db_settings": ({}, (dict,)),
    "choice_style": ("multiple", (str,)),
    "allowed_sessions": (None, (list, None)),
    "annotations_per_task": (None, (int, None)),
    "allowed_hosts": (None, (list, None)),
    "blocks": (None, (list, None)),
    "html_template": (None, (str, None)),
    "field_id": (None, (str, None)),
    "field_label": (None, (str, None)),
    "field_placeholder": (None, (str, None)),
    "field_rows": (None, (int, None)),
    "field_autofocus": (False, (bool,)),
    "field_suggestions": (None, (list, None)),
    "javascript": (None, (str, None)),
    "global_css": (None, (str, None)),
    "card_css": (None, (dict, str, None)),
    "custom_theme": (None, (dict, None)),
    "keymap": (None, (dict, None)),
    "keymap_by_label": (None, (dict, None)),
}
CHOICES = {
    "exclude_by": ("task", "input"),
    "db": ("sqlite", "postgresql"),
    "choice_style": ("single", "multiple"),
}
POSITIVE = ("batch_size", "history_size", "claim_timeout", "annotations_per_task")
# The most answers one request (or one headless batch) carries: a batch is one transaction whose
# statements list its hashes, and this keeps each list under SQLite's variable limit (32,766 in
# most builds). POST /api/answers refuses more with 413.
MAX_BATCH = 10_000
# Never sent to the browser by /api/project.
PRIVATE_KEYS = ("db", "db_settings", "allowed_hosts")


@dataclass
class Config:
    """The merged settings, and the warnings met on the way (unknown keys)."""

    values: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if k not in PRIVATE_KEYS}


def rr_home() -> Path:
    """$RR_HOME, or ~/.rr; read at call time, never at import."""
    return Path(os.environ.get("RR_HOME") or Path.home() / ".rr")


def defaults() -> dict[str, Any]:
    return {key: json.loads(json.dumps(default)) for key, (default, _) in SCHEMA.items()}


def read_json_file(path: Path) -> dict[str, Any]:
    """A config file as a dict; a clear error naming the file when it is not a JSON object."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except UnicodeDecodeError as err:
        raise ConfigError(f"Config file '{path}' is not valid UTF-8: {err.reason}.") from None
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"Config file '{path}' line {err.lineno}: invalid JSON ({err.msg}). Fix the file."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file '{path}' must hold a JSON object, not {type(data).__name__}."
        )
    return data


def check_layer(layer: dict[str, Any], source: str, warnings: list[str]) -> None:
    """Check one layer's keys and value types; unknown keys are warnings, bad values errors."""
    for key, value in layer.items():
        if key not in SCHEMA:
            hint = closest(key, list(SCHEMA))
            more = f" (did you mean '{hint[0]}'?)" if hint else ""
            warnings.append(f"Unknown config key '{key}' in {source}{more}; it is ignored.")
            continue
        _, types = SCHEMA[key]
        ok = (value is None and None in types) or any(
            t is not None
            and isinstance(value, t)
            and not (t is not bool and isinstance(value, bool))
            for t in types
        )
        if not ok:
            wanted = " or ".join("null" if t is None else t.__name__ for t in types)
            raise ConfigError(
                f"Config key '{key}' in {source} must be {wanted}, not {json.dumps(value)}."
            )
        if key in CHOICES and value not in CHOICES[key]:
            raise ConfigError(
                f"Config key '{key}' in {source} must be one of {', '.join(CHOICES[key])}, "
                f"not {json.dumps(value)}."
            )
        if key == "allowed_sessions" and value is not None:
            names = [n.strip() if isinstance(n, str) else n for n in value]
            if not names or any(not isinstance(n, str) or not n for n in names):
                raise ConfigError(
                    f"Config key 'allowed_sessions' in {source} must be a list of session "
                    f"names, not {json.dumps(value)}."
                )
            layer[key] = names
        if key == "allowed_hosts" and not all(
            isinstance(h, str) and h.strip() for h in value or ()
        ):
            raise ConfigError(
                f"Config key 'allowed_hosts' in {source} must be a list of host names, "
                f"not {json.dumps(value)}."
            )
        if key in POSITIVE and value is not None and value <= 0:
            raise ConfigError(f"Config key '{key}' in {source} must be positive, not {value}.")
        if key == "batch_size" and value > MAX_BATCH:
            raise ConfigError(
                f"Config key 'batch_size' in {source} is {value}; at most {MAX_BATCH} is allowed."
            )


def load_config(
    recipe_config: dict[str, Any] | None = None, cli: dict[str, Any] | None = None
) -> Config:
    """Merge the layers, later winning: defaults, $RR_HOME/rr.json, ./rr.json, the recipe's
    `config`, RR_CONFIG_OVERRIDES, RR_HOST/RR_PORT, command-line options."""
    warnings: list[str] = []
    values = defaults()
    layers: list[tuple[str, dict[str, Any]]] = []
    for path in (rr_home() / "rr.json", Path.cwd() / "rr.json"):
        if path.is_file():
            layers.append((f"'{path}'", read_json_file(path)))
    if recipe_config:
        layers.append(("the recipe's config", dict(recipe_config)))
    raw_overrides = os.environ.get("RR_CONFIG_OVERRIDES")
    if raw_overrides:
        try:
            overrides = json.loads(raw_overrides)
        except json.JSONDecodeError as err:
            raise ConfigError(f"RR_CONFIG_OVERRIDES is not valid JSON: {err.msg}.") from None
        if not isinstance(overrides, dict):
            raise ConfigError("RR_CONFIG_OVERRIDES must be a JSON object of config keys.")
        layers.append(("RR_CONFIG_OVERRIDES", overrides))
    env: dict[str, Any] = {}
    if os.environ.get("RR_HOST"):
        env["host"] = os.environ["RR_HOST"]
    if os.environ.get("RR_PORT"):
        try:
            env["port"] = int(os.environ["RR_PORT"])
        except ValueError:
            raise ConfigError(
                f"RR_PORT must be a port number, not '{os.environ['RR_PORT']}'."
            ) from None
    layers.append(("RR_HOST/RR_PORT", env))
    allowed = os.environ.get("RR_ALLOWED_SESSIONS")
    if allowed is not None and allowed.strip():
        names = [n.strip() for n in allowed.split(",") if n.strip()]
        layers.append(("RR_ALLOWED_SESSIONS", {"allowed_sessions": names}))
    layers.append(("the command line", {k: v for k, v in (cli or {}).items() if v is not None}))
    for source, layer in layers:
        check_layer(layer, source, warnings)
        # An unknown key is left out, as its warning says: nothing may come to rely on a typo.
        values.update((k, v) for k, v in layer.items() if k in SCHEMA)
    check_page_config(values)
    return Config(values, warnings)


def check_page_config(values: dict[str, Any]) -> None:
    """The web view's keys and look, checked whether or not a page is served: a config that
    maps one key twice or has an unknown theme key fails headless runs too."""
    from .keymap import resolve_keys
    from .theme import recipe_css

    resolve_keys(values)
    recipe_css(values)
