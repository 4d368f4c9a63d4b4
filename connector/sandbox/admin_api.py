"""PLACEHOLDER being replaced by the sandbox helper: /_sandbox/ admin endpoints."""
from __future__ import annotations


class AdminApi:
    def __init__(self, app) -> None:
        self.app = app
