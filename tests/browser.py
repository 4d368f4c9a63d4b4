"""A real headless browser for the HTML reports' tests (Debian's chromium).

Shared by every ``--html`` page's browser test so they all install, skip and read console
messages the same way: the page is opened with ``--enable-logging=stderr --v=0``, and
chromium writes each console message (errors, uncaught exceptions, failed loads) to stderr
as a ``:CONSOLE`` line, which the tests require to be absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser, installed with apt where this runs as root and it is missing; else skip
    with the reason printed."""
    if not Path(CHROMIUM).exists() and shutil.which("apt-get") and os.geteuid() == 0:
        try:
            subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True,
                           timeout=600, check=False)
        except subprocess.TimeoutExpired:
            pass
    if not Path(CHROMIUM).exists():
        reason = f"no {CHROMIUM} (apt-get install -y chromium failed or is not available here)"
        print(f"SKIPPED browser check: {reason}")
        pytest.skip(reason)
    return CHROMIUM


def browse(browser: str, page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Open ``page`` once in a fresh profile under ``tmp`` (no state shared between runs)."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
                           "--v=0", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)


def console(stderr: str) -> list[str]:
    """Chromium's log lines for console messages (errors, uncaught exceptions, failed loads)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def screenshot(browser: str, page: Path, tmp: Path, name: str) -> tuple[Path, list[str]]:
    """A full-width PNG of ``page`` kept under ``tmp``, and the console lines taking it left."""
    shot = tmp / name
    taken = browse(browser, page, tmp, f"--screenshot={shot}", "--window-size=1280,2400",
                   "--hide-scrollbars")
    assert taken.returncode == 0, taken.stderr[-2000:]
    return shot, console(taken.stderr)
