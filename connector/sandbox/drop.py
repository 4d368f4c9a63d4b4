"""The "no reply" signal, shared by the server and the fault injector.

A leaf module (standard library only) so that imports go one way: ``server`` and ``faults``
both import it, and neither needs the other. A handler or fault hook returns :data:`DROP`
instead of a :class:`~connector.sandbox.http.Response` to make the server close the
connection without answering, the way a crashed proxy or a cut network does.
"""

from __future__ import annotations

__all__ = ["DROP", "Drop"]


class Drop:
    """Sentinel type: close the connection without a reply (use the one :data:`DROP`)."""

    def __repr__(self) -> str:
        return "DROP"


DROP = Drop()
