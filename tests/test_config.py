"""Configuration layers, later winning: defaults, RR_HOME, ./rr.json, recipe, env vars, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipe_runner.config import SCHEMA, load_config, rr_home
from recipe_runner.errors import ConfigError


def write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def test_defaults_are_the_contract_table() -> None:
    config = load_config()
    expected = {
        "batch_size": 10,
        "host": "127.0.0.1",
        "port": 8080,
        "show_stats": False,
        "feed_overlap": False,
        "history_size": 10,
        "instant_submit": False,
        "exclude_by": "task",
        "auto_exclude_current": True,
        "total_examples_target": None,
        "instructions": None,
        "labels": None,
        "claim_timeout": 3600,
        "db": "sqlite",
        "db_settings": {},
    }
    for key, value in expected.items():
        assert config[key] == value, key
    assert config.warnings == []


def test_defaults_are_fresh_copies() -> None:
    load_config()["db_settings"]["url"] = "changed"
    assert load_config()["db_settings"] == {}
    assert SCHEMA["db_settings"][0] == {}


def test_every_layer_in_order(
    rr_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ("batch_size", "history_size", "claim_timeout", "show_stats", "host", "port")
    # Each layer sets every key from here on, so the winner of each key is the last layer
    # that sets it: a layer applied out of order shows as a wrong winner.
    write(
        rr_home / "rr.json",
        {
            "batch_size": 1,
            "history_size": 1,
            "claim_timeout": 1,
            "show_stats": True,
            "host": "home",
            "port": 1,
        },
    )
    assert [load_config()[k] for k in keys] == [1, 1, 1, True, "home", 1]
    write(tmp_path / "rr.json", {"history_size": 2, "claim_timeout": 2, "host": "cwd", "port": 2})
    assert [load_config()[k] for k in keys] == [1, 2, 2, True, "cwd", 2]
    recipe = {"claim_timeout": 3, "host": "recipe", "port": 3}
    assert [load_config(recipe)[k] for k in keys] == [1, 2, 3, True, "recipe", 3]
    monkeypatch.setenv("RR_CONFIG_OVERRIDES", json.dumps({"host": "overrides", "port": 4}))
    assert [load_config(recipe)[k] for k in keys] == [1, 2, 3, True, "overrides", 4]
    monkeypatch.setenv("RR_HOST", "env-host")
    assert load_config(recipe)["host"] == "env-host"
    assert load_config(recipe)["port"] == 4
    monkeypatch.setenv("RR_PORT", "5")
    assert load_config(recipe)["port"] == 5
    cli = {"host": "cli", "port": 6, "batch_size": None}  # None: option not given
    config = load_config(recipe, cli)
    assert [config[k] for k in keys] == [1, 2, 3, True, "cli", 6]


def test_rr_home_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    write(other / "rr.json", {"batch_size": 42})
    monkeypatch.setenv("RR_HOME", str(other))
    assert rr_home() == other
    assert load_config()["batch_size"] == 42
    monkeypatch.delenv("RR_HOME")
    assert rr_home() == Path.home() / ".rr"


def test_unknown_key_is_a_warning_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "rr.json", {"batch_sise": 5, "colour": "red"})
    config = load_config()
    assert config["batch_size"] == 10
    assert "batch_sise" not in config.values
    assert len(config.warnings) == 2
    assert "'batch_sise'" in config.warnings[0]
    assert "did you mean 'batch_size'" in config.warnings[0]
    assert "rr.json" in config.warnings[0]
    assert "'colour'" in config.warnings[1]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("batch_size", "10"),
        ("batch_size", True),  # a bool is not a number here
        ("batch_size", 0),
        ("port", 80.5),
        ("show_stats", "yes"),
        ("exclude_by", "everything"),
        ("labels", "A,B"),
        ("db_settings", []),
        ("db", "mysql"),
    ],
)
def test_bad_value_is_an_error_naming_the_key(key: str, value: object, tmp_path: Path) -> None:
    write(tmp_path / "rr.json", {key: value})
    with pytest.raises(ConfigError) as err:
        load_config()
    assert f"'{key}'" in str(err.value)
    assert "rr.json" in str(err.value)


def test_bad_value_from_each_source_names_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="'batch_size' in the recipe's config"):
        load_config({"batch_size": "x"})
    with pytest.raises(ConfigError, match="'port' in the command line"):
        load_config(cli={"port": "x"})
    monkeypatch.setenv("RR_CONFIG_OVERRIDES", '{"feed_overlap": 1}')
    with pytest.raises(ConfigError, match="'feed_overlap' in RR_CONFIG_OVERRIDES"):
        load_config()


def test_null_where_allowed() -> None:
    config = load_config({"total_examples_target": None, "labels": None})
    assert config["total_examples_target"] is None
    assert load_config({"total_examples_target": 50})["total_examples_target"] == 50


def test_broken_overrides_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_CONFIG_OVERRIDES", "{not json")
    with pytest.raises(ConfigError, match="RR_CONFIG_OVERRIDES is not valid JSON"):
        load_config()
    monkeypatch.setenv("RR_CONFIG_OVERRIDES", "[1]")
    with pytest.raises(ConfigError, match="RR_CONFIG_OVERRIDES must be a JSON object"):
        load_config()
    monkeypatch.delenv("RR_CONFIG_OVERRIDES")
    monkeypatch.setenv("RR_PORT", "eighty")
    with pytest.raises(ConfigError, match="RR_PORT must be a port number, not 'eighty'"):
        load_config()


def test_broken_config_file_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "rr.json").write_text('{\n  "batch_size": 5,\n  oops\n}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rr\.json' line 3: invalid JSON"):
        load_config()
    write(tmp_path / "rr.json", [1, 2])
    with pytest.raises(ConfigError, match="must hold a JSON object, not list"):
        load_config()
    (tmp_path / "rr.json").write_bytes(b'{"host": "caf\xe9"}')
    with pytest.raises(ConfigError, match="is not valid UTF-8"):
        load_config()


def test_public_hides_database_settings() -> None:
    config = load_config({"db_settings": {"path": "secret.db"}})
    public = config.public()
    assert "db" not in public
    assert "db_settings" not in public
    assert public["batch_size"] == 10
