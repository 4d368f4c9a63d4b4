"""PLACEHOLDER being replaced by a sandbox helper."""
from __future__ import annotations

from .http import Response


class SalesforceApi:
    portal_id = 0

    def __init__(self, app) -> None:
        self.app = app

    def load(self, data) -> None:
        pass

    def dump(self) -> dict:
        return {}

    def reset(self) -> None:
        pass

    def unauthorized(self) -> Response:
        return Response.json(401, {"message": "unauthorized"})

    def not_found(self, req, path_known: bool) -> Response:
        return Response.json(405 if path_known else 404, {"message": "not found"})
