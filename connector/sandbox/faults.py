"""PLACEHOLDER being replaced by the sandbox helper: fault injection."""
from __future__ import annotations


class Faults:
    def __init__(self, seed: int = 0, **settings: object) -> None:
        self.seed = seed
        self.settings = dict(settings)

    def before(self, req, family):
        return None

    def after(self, req, family, response):
        return None
