"""Where the files leadsync ships (the repo's ``mappings/``) are, in the repo and installed.

``mappings/`` stays a top-level folder of the repo because people read and copy those files.
A wheel cannot carry a folder beside the package, so ``pyproject.toml`` packages the same
folder as ``connector/_mappings`` (``package-dir``). One lookup serves both: the source
tree first (the repo and editable installs, where an edit to ``mappings/`` must show at
once), then the copy inside the installed package.
"""

from __future__ import annotations

from pathlib import Path

from connector.errors import ConfigError

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
