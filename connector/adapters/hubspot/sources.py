"""Every configured stream behind the one ``ports.Source``: forms, events, meetings.

The engine (and reconcile, what-if) asks for streams (``stream -> since``); each goes to
the reader of its kind (``config.sources.stream_kind``: a bare id is a form's, as in every
earlier ledger). ``HubSpotSources`` *is* the forms client, extended: forms keep their
concurrent paging, events and meetings are read one stream after another, and all three
call HubSpot through the one client, so its call count, pacing, retries and token refresh
cover them all. Commands that hold ``Clients.hubspot`` need no change to read the new kinds.
"""

from __future__ import annotations

from typing import Any, Generator, Mapping, Sequence

from connector.adapters.hubspot.events import EventsSource
from connector.adapters.hubspot.forms import FORM_WORKERS, PAGES_AHEAD, HubSpotClient
from connector.adapters.hubspot.meetings import MeetingsSource
from connector.config.settings import HubSpotSettings
from connector.config.sources import EVENT, FORM, MEETINGS, stream_kind
from connector.core.model import Submission


class HubSpotSources(HubSpotClient):
    def __init__(self, settings: HubSpotSettings, *, streams: Sequence[str] = (),
                 **kw: Any) -> None:
        super().__init__(settings, **kw)
        # streams the last read could not read (the app lacks a scope): stream -> why
        self.unreadable_streams: dict[str, str] = {}
        self.streams = tuple(streams)
        self.events = EventsSource(self)
        self.meetings = MeetingsSource(self)

    def read_fields(self, fields: Sequence[str], email_field: str) -> None:
        """The contact properties the mapping reads, asked of HubSpot for each participant
        and meeting contact (their forms' answers, as HubSpot keeps them on the contact)."""
        for source in (self.events, self.meetings):
            source.fields, source.email_field = tuple(fields), email_field

    def pages_many(self, since_by_form: Mapping[str, int], *, workers: int = FORM_WORKERS,
                   ahead: int = PAGES_AHEAD) -> Generator[list[Submission], None, None]:
        split = _split(since_by_form)
        self.missing_forms, self.unreadable_streams = set(), {}
        if split.get(FORM):
            pages = super().pages_many(split[FORM], workers=workers, ahead=ahead)
            try:
                yield from pages
            finally:
                pages.close()
        for kind, reader in ((EVENT, self.events), (MEETINGS, self.meetings)):
            if split.get(kind):
                yield from reader.pages_many(split[kind])
        self._gather_pauses()

    def submissions_many(self, since_by_form: Mapping[str, int], *, workers: int = FORM_WORKERS
                         ) -> list[Submission]:
        split = _split(since_by_form)
        merged = super().submissions_many(split.get(FORM, {}), workers=workers)
        for kind, reader in ((EVENT, self.events), (MEETINGS, self.meetings)):
            for page in reader.pages_many(split.get(kind, {})):
                merged.extend(page)
        self._gather_pauses()
        merged.sort(key=lambda s: (s.submitted_at, s.conversion_id))
        return merged

    def _gather_pauses(self) -> None:
        """After a read: an event HubSpot answered 404 for pauses alone, as a missing form
        does; so does a stream the app may not read (a scope it lacks)."""
        self.missing_forms |= self.events.missing
        self.unreadable_streams = {**self.events.unreadable, **self.meetings.unreadable}

    def form_names(self) -> dict[str, str]:
        """Stream -> the name an admin knows it by: the form's, the event's, "Meeting booked"."""
        kinds = {stream_kind(s) for s in self.streams}
        names = super().form_names() if FORM in kinds or not self.streams else {}
        names.update(self.events.form_names([s for s in self.streams if stream_kind(s) == EVENT]))
        names.update(self.meetings.form_names([s for s in self.streams
                                                if stream_kind(s) == MEETINGS]))
        return names


def _split(since_by_stream: Mapping[str, int]) -> dict[str, dict[str, int]]:
    split: dict[str, dict[str, int]] = {}
    for stream, since in since_by_stream.items():
        split.setdefault(stream_kind(stream), {})[stream] = since
    return split
