"""Where the files leadsync ships (the repo's ``mappings/``) are, in the repo and installed.

``mappings/`` stays a top-level folder of the repo because people read and copy those files.
A wheel cannot carry a folder beside the package, so ``pyproject.toml`` packages the same
folder as ``connector/_mappings`` (``package-dir``). One lookup serves both: the source
tree first (the repo and editable installs, where an edit to ``mappings/`` must show at
once), then the copy inside the installed package.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from connector.core.domains import FreeMailList, parse_free_mail
from connector.errors import ConfigError, LeadsyncError

GEO_DATA_FILE = "countries.json"   # country and state names: read by connector.core.geo
FREE_MAIL_FILE = "freemail.txt"    # free-mail domains: read by connector.core.accounts

_HERE = Path(__file__).resolve().parent
SEARCH_DIRS: tuple[Path, ...] = (
    _HERE.parent / "mappings",   # the repo, or an editable install of it
    _HERE / "_mappings",         # a regular install (wheel): see pyproject.toml
)


class ShippedFileMissing(ConfigError):
    """A file leadsync ships is in none of the places it is looked for: a broken install.

    A ConfigError, so the CLI ends with its usual exit code before anything is touched;
    the message names the file and every place looked, so an admin can tell a stripped
    install from a wrong working directory.
    """

    def __init__(self, name: str, looked: tuple[Path, ...]) -> None:
        super().__init__(f"leadsync's shipped file {name!r} is missing; looked in "
                         + ", ".join(str(p) for p in looked)
                         + " (reinstall leadsync, or run it from its source tree)")
        self.name = name
        self.looked = looked


def shipped_file(name: str) -> Path:
    """The path of a shipped file (``default.toml``, ``countries.json``, ``freemail.txt``).

    Raises :class:`ShippedFileMissing` rather than returning a path that does not exist,
    so a missing list fails where it is looked up, not as a bare FileNotFoundError later.
    """
    looked = tuple(folder / name for folder in SEARCH_DIRS)
    for candidate in looked:
        if candidate.is_file():
            return candidate
    raise ShippedFileMissing(name, looked)


# -- the shipped data, read -----------------------------------------------------------------
# The pure rooms (connector.core.geo, connector.core.accounts) index and compare this data;
# reading the files is kept here, beside the lookup of where they are.

def geo_data() -> dict[str, Any]:
    """The parsed ``countries.json``: ``countries`` and ``states`` (see connector.core.geo)."""
    data: dict[str, Any] = json.loads(shipped_file(GEO_DATA_FILE).read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=4)
def load_free_mail(path: str | Path | None = None) -> FreeMailList:
    """Read a free-mail list once per process (cached by path); by default the shipped one,
    looked up on first use so an installed copy finds it too."""
    if path is None:
        path = shipped_file(FREE_MAIL_FILE)
    try:
        return parse_free_mail(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        # Failing loudly beats matching every gmail.com person to an Account that once
        # typed gmail.com as its Website.
        raise LeadsyncError(f"the free-mail list is missing: {path}") from None
