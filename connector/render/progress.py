"""Progress of a long run (sync, backfill): click's bar on a terminal, a log line otherwise.

A 20,000-response backfill pulls for a while, writes in batches, and waits on Bulk API jobs;
before this a person saw nothing for the first 30 s, and a log saw nothing at all. Here the
run tells :class:`RunProgress` what happens (pages and responses per source while pulling,
batches while writing, each Bulk job's state while waiting) and it shows it:

- on a terminal, as ``click.progressbar`` (a pulsing bar while the total is unknown, then a
  bar over the responses to write, with the batch and the Bulk job's state beside it);
- elsewhere (cron, a container's log, ``| tee``), as one plain line every ``every`` seconds
  (10 by default) while anything runs, from the events and from a heartbeat thread, so a
  long wait on a Bulk job is never silent either. A run shorter than ``every`` prints none.

The clock is injected and :meth:`RunProgress.tick` is public, so tests drive it with a fake
clock and no thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol, TextIO, cast

import click

EVERY_SECONDS = 10.0


def _unknown_length() -> Iterator[str]:
    """An iterable without a length: click then draws a pulsing bar, not a percentage."""
    yield from ()


@dataclass
class _Pull:
    pages: dict[str, int] = field(default_factory=dict)
    responses: dict[str, int] = field(default_factory=dict)


@dataclass
class _Write:
    total: int = 0
    done: int = 0
    batches: int = 0
    job: str | None = None          # "Bulk job 750… (Lead) InProgress, 1,200 processed"


class Lines(Protocol):
    """Where the plain lines go: a text stream, or the daemon's log (``daemon.ProgressLog``)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class RunProgress:
    """The display; also the engine's ``progress`` callable (responses written, total)."""

    def __init__(self, *, stream: Lines, tty: bool, label: str = "sync",
                 clock: Callable[[], float] = time.monotonic, every: float = EVERY_SECONDS,
                 batch_size: int | None = None) -> None:
        self.stream = stream
        self.tty = tty
        self.label = label
        self.clock = clock
        self.every = every
        self.batch_size = batch_size
        self.phase = "pulling"
        self.pull = _Pull()
        self.write = _Write()
        self._lock = threading.Lock()
        self._last_line = clock()
        self._bar: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- events ------------------------------------------------------------------------
    def page(self, source: str, responses: int) -> None:
        """A page of ``responses`` pulled from ``source`` (a form id)."""
        with self._lock:
            self.pull.pages[source] = self.pull.pages.get(source, 0) + 1
            self.pull.responses[source] = self.pull.responses.get(source, 0) + responses
            self._show(0)

    def pulled(self, total: int) -> None:
        """The pull is over: ``total`` responses (new to the ledger) are to be written."""
        with self._lock:
            self._begin_writing(total)

    def __call__(self, done: int, total: int) -> None:
        """A batch is written: ``done`` of ``total`` responses so far."""
        with self._lock:
            if self.phase != "writing":
                self._begin_writing(total)
            step = done - self.write.done
            self.write.done, self.write.total = done, total
            self.write.batches += 1
            self.write.job = None
            self._show(step)

    def bulk(self, job_id: str, sobject: str, state: str, processed: int) -> None:
        """A Bulk API job's state, as a poll saw it."""
        with self._lock:
            if self.phase != "writing":
                self._begin_writing(self.write.total)
            self.write.job = (f"Bulk job {job_id} ({sobject}) {state}"
                              + (f", {processed:,} processed" if processed else ""))
            self._show(0)

    def tick(self) -> None:
        """The heartbeat: a log line when none was written for ``every`` seconds."""
        with self._lock:
            if not self.tty and self.phase != "done":
                self._maybe_line()

    # -- life ----------------------------------------------------------------------------
    def __enter__(self) -> "RunProgress":
        if not self.tty:
            self._thread = threading.Thread(target=self._beat, name="leadsync-progress",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self.phase = "done"
            if self._bar is not None:
                self._bar.render_finish()
                self._bar = None

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            self.tick()

    # -- showing (under the lock) ----------------------------------------------------------
    def _begin_writing(self, total: int) -> None:
        if self.phase == "writing":
            return
        self.phase = "writing"
        self.write.total = total
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None

    def _show(self, step: int) -> None:
        if self.tty:
            bar = self._terminal_bar()
            if step > 0:
                bar.update(step, self._info())
            else:   # news without progress (a page, a job's state): click's update skips it
                bar.current_item = self._info()
                bar.render_progress()
        else:
            self._maybe_line()

    def _terminal_bar(self) -> Any:
        if self._bar is None:
            if self.phase == "writing":
                bar = click.progressbar(length=max(self.write.total, 1), label=f"{self.label}: writing",
                                        file=cast(TextIO, self.stream), item_show_func=lambda s: s, show_pos=True)
            else:   # the total is unknown until the last page: a pulsing bar
                bar = click.progressbar(iterable=_unknown_length(), label=f"{self.label}: pulling",
                                        file=cast(TextIO, self.stream), item_show_func=lambda s: s)
            bar.__enter__()
            self._bar = bar
        return self._bar

    def _maybe_line(self) -> None:
        now = self.clock()
        if now - self._last_line >= self.every:
            self._last_line = now
            self.stream.write(f"{self.label}: {self.phase} · {self._info()}\n")
            self.stream.flush()

    def _info(self) -> str:
        if self.phase == "pulling":
            sources = len(self.pull.pages)
            pages, responses = sum(self.pull.pages.values()), sum(self.pull.responses.values())
            per = ", ".join(f"{source[:8]} {self.pull.pages[source]} p/{self.pull.responses[source]:,} r"
                            for source in sorted(self.pull.pages))
            return (f"{sources} form(s), {pages} page(s), {responses:,} response(s)"
                    + (f" [{per}]" if per else ""))
        w = self.write
        of = ""
        if self.batch_size and w.total:
            of = f" of {-(-w.total // self.batch_size)}"
        text = f"batch {w.batches}{of} written, {w.done:,}/{w.total:,} response(s)"
        return text + (f"; {w.job}" if w.job else "")
