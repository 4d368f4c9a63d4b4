"""Salesforce's error value, in a leaf module so every rule module can raise it.

``sf_store`` re-exports :class:`SfError`; the rule modules (validation rules, duplicate rules,
member statuses) import it from here, so they never import the store that calls them and the
imports keep going one way.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = ["SfError"]


class SfError(Exception):
    """A Salesforce API error: errorCode, message and the fields it concerns."""

    def __init__(self, code: str, message: str, fields: Iterable[str] | None = None, *,
                 status: int = 400, extra: Mapping[str, Any] | None = None,
                 also: Iterable["SfError"] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = list(fields) if fields is not None else None
        self.status = status
        self.extra = dict(extra or {})
        self.also = list(also)   # more errors on the same record (several validation rules)

    def errors(self) -> list["SfError"]:
        """This error and the ones raised with it, in the order Salesforce lists them."""
        return [self, *self.also]

    def as_error(self) -> dict[str, Any]:
        """The element of a single-record error body (``errorCode``)."""
        out: dict[str, Any] = dict(self.extra)
        out["errorCode"] = self.code
        out["message"] = self.message
        if self.fields is not None:
            out["fields"] = self.fields
        return out

    def as_item(self, message: str | None = None) -> dict[str, Any]:
        """The element of a collections result's ``errors`` (``statusCode``)."""
        return {"statusCode": self.code, "message": message or self.message,
                "fields": self.fields or []}
