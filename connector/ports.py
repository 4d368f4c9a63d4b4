"""What the engine is typed against: a response Source, the CRM it writes to, and the Ledger.

Each is a ``typing.Protocol``, so a second implementation (HubSpot marketing events or
meetings beside forms, another store beside SQLite, a recording CRM in a test) only has to
have these methods; nothing in the engine names a concrete adapter class. The composition
root (``connector.engine.wiring``) is the one place that picks the implementations.

A source's responses are partitioned by *stream* (a form's guid, bare as earlier ledgers
hold it; ``event:<objectId>``; ``meetings``: ``connector.config.sources``): watermarks,
staging and the ledger key on the stream and the response's id. The ledger's column keeps
its first name, ``form_id``, for users' queries and existing state files.
"""

from __future__ import annotations

from typing import Any, Generator, Iterable, Iterator, Mapping, Protocol, Sequence

from connector.core.model import Outcome, Submission

Row = dict[str, Any]


class Source(Protocol):
    """Where responses come from (``connector.adapters.hubspot.sources.HubSpotSources``:
    forms, marketing events and meetings, each stream sent to its reader)."""

    calls: int

    def pages_many(self, since_by_form: Mapping[str, int]
                   ) -> Generator[list[Submission], None, None]:
        """Each stream's responses since its start (epoch ms), page by page as they arrive."""
        ...

    def form_names(self) -> dict[str, str]:
        """Stream id -> the name an admin knows it by (for Tasks and reports)."""
        ...


class Writer(Protocol):
    """Who creates Leads and campaign members: the CRM's collections, or Bulk past a size."""

    def create(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[Row]: ...

    def upsert(self, sobject: str, external_id_field: str, records: Sequence[dict[str, Any]]
               ) -> list[Row]: ...

    def create_members(self, records: Sequence[dict[str, Any]]) -> list[Row]: ...


class Usage(Protocol):
    @property
    def used(self) -> int: ...

    @property
    def limit(self) -> int: ...

    @property
    def share(self) -> float: ...


class Crm(Writer, Protocol):
    """The CRM's reads and writes (``connector.adapters.salesforce.client.SalesforceClient``)."""

    calls: int

    @property
    def usage(self) -> Usage | None:
        """The org's API usage from the newest reply's ``Sforce-Limit-Info``."""
        ...

    def reset_usage(self) -> None:
        """Forget the last reading: one from an earlier run says nothing about now."""
        ...

    def query_many(self, statements: Sequence[str], *, include_deleted: bool = False
                   ) -> list[list[Row]]: ...

    def find_people(self, emails: Iterable[str], *, external_id_field: str | None = None,
                    lead_fields: Sequence[str] = (), contact_fields: Sequence[str] = ()
                    ) -> tuple[list[Row], list[Row]]: ...

    def find_members(self, campaign_ids: Iterable[str], record_ids: Iterable[str]) -> list[Row]: ...

    def find_accounts(self, domains: Iterable[str], name_prefixes: Iterable[str] = ()
                      ) -> list[Row]: ...

    def find_owners(self, usernames: Iterable[str], queues: Iterable[str],
                    user_ids: Iterable[str] = ()) -> dict[str, str]: ...

    def find_tasks(self, field_name: str, values: Iterable[str]) -> list[Row]: ...

    def describe(self, sobjects: Iterable[str]) -> dict[str, dict[str, Any]]: ...

    def update_mixed(self, records: Sequence[tuple[str, dict[str, Any]]]) -> list[Row]: ...


class Ledger(Protocol):
    """The run's durable record (``connector.adapters.sqlite.ledger.State``): intents before
    writes, outcomes and watermarks after, the run history, a staging area for a pull."""

    def lock(self) -> object: ...

    def record_warnings(self, run_id: str, warnings: Sequence[tuple[str, str, str]]) -> None: ...

    def start_run(self, run_id: str, method: str, dry_run: bool) -> None: ...

    def finish_run(self, run_id: str, status: str, counts: Mapping[str, Any],
                   error: str | None = None) -> None: ...

    def record_intents(self, outcomes: Iterable[Outcome], run_id: str) -> None: ...

    def record_outcomes(self, outcomes: Iterable[Outcome], run_id: str,
                        watermarks: Mapping[str, int] | None = None) -> None: ...

    def watermark(self, form_id: str) -> int | None: ...

    def statuses(self, conversion_ids: Iterable[str]) -> dict[str, str]: ...

    def owner_forms(self, conversion_ids: Iterable[str]) -> dict[str, str]: ...

    def oldest_pending(self) -> dict[str, int]: ...

    def parked_leads(self, conversion_ids: Iterable[str]) -> dict[str, str]: ...

    def rows(self, status: str | None = None) -> list[dict[str, Any]]: ...

    def history(self, emails: Iterable[str]) -> dict[str, list[tuple[int, str]]]: ...

    def cached(self, key: str, max_age_seconds: float) -> Any: ...

    def cache(self, key: str, value: Any) -> None: ...

    def stage(self, submissions: Iterable[Submission]) -> int: ...

    def unstage_recorded(self) -> int: ...

    def staged_count(self) -> int: ...

    def staged_batches(self, size: int) -> Iterator[list[Submission]]: ...

    def unstage_all(self) -> None: ...
