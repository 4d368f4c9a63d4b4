"""``LEADSYNC_<SECTION>__<KEY>`` environment variables over the config file's values.

A container or a CI job changes one setting without rewriting the file: the same image runs
with ``LEADSYNC_SYNC__BATCH_SIZE=2000`` in one place and the file's value in another. The
variables are merged into the parsed file before validation, so a bad value is refused
exactly as it would be in the file, as a ConfigError naming its key.

The spelling: ``LEADSYNC_`` then the section path and key, upper-cased, ``__`` between each
(``LEADSYNC_ROUTING__TASKS__SLA``); ``LEADSYNC_METHOD`` for the one top-level scalar. The
secret variables (``LEADSYNC_SALESFORCE_ACCESS_TOKEN``, one ``_``) are a different, older
spelling, read where the credentials are; nothing here touches them.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time
from typing import Any, Mapping

from connector.errors import ConfigError

PREFIX = "LEADSYNC_"
TOP_LEVEL = ("method",)   # keys that are values, not tables, at the top of the file


def env_path(name: str) -> tuple[str, ...] | None:
    """The config key path a variable names, or None if it is not an override."""
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX):]
    if "__" not in rest:
        return (rest.lower(),) if rest.lower() in TOP_LEVEL else None
    parts = tuple(part.lower() for part in rest.split("__"))
    if any(not part for part in parts):
        raise ConfigError("an empty part in the key path; use e.g. LEADSYNC_SYNC__BATCH_SIZE",
                          key=name)
    return parts


def env_value(text: str) -> Any:
    """TOML's reading of the text when it is a value TOML can hold on one line (``2000`` is a
    number, ``true`` a boolean, ``"x"`` a string, ``["a", "b"]`` a list); else the text
    itself, so ``https://acme.my.salesforce.com`` needs no quoting."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    scalar = (str, int, float, bool, date, datetime, time)
    if isinstance(value, scalar) or (isinstance(value, list) and
                                     all(isinstance(item, scalar) for item in value)):
        return value
    return text


def apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The file's tables with every ``LEADSYNC_`` override set in them (``data`` untouched).

    A path through a value that is not a table (``[[campaigns]]`` is a list) is refused by
    name rather than silently replacing the list.
    """
    merged = _copy(data)
    for name in sorted(env):
        path = env_path(name)
        if path is None:
            continue
        table = merged
        for depth, part in enumerate(path[:-1]):
            child = table.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"is not a table, so {name} cannot set a key in it",
                                  key=".".join(path[:depth + 1]))
            table = child
        table[path[-1]] = env_value(env[name])
    return merged


def _copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}
