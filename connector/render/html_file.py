"""Writing an HTML report to disk: one writer for ``status``, ``whatif`` and ``funnel``.

Each page names the org's forms, campaigns and owners, and some list people's emails:
no secret, but nothing for every user of a shared host either. So the file is owner-only
(0600) whatever the umask, and it is written beside ``path`` under a temporary name and
renamed over it, so a report a browser or a mailer picks up is never half-written and an
existing file of wider mode is replaced, not reused. An ``OSError`` names ``path``, not the
temporary.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_private(path: str | Path, page: str) -> Path:
    """Write ``page`` to ``path`` owner-only and atomically; returns the path."""
    path = Path(path)
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
    try:
        os.fchmod(fd, 0o600)              # mkstemp makes it 0600 already; say so anyway
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(page)
        os.replace(temporary, path)
    except OSError as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
    return path
