"""A secret value (a token, a password, a webhook URL): usable via ``.reveal()``, shown as
``***`` in every repr, log line, error and report. One class for every secret the
configuration holds, so none of them can be printed by accident."""

from __future__ import annotations


class Secret:
    """A token or password: usable via ``.reveal()``, invisible in logs and reprs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
