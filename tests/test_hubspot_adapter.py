"""HubSpotClient.submissions_many: several forms paged at once, same result, within the limits."""

from __future__ import annotations

from typing import Any

import requests

from connector.config.settings import HubSpotSettings, Secret
from connector.adapters.hubspot.forms import HubSpotClient
from connector.sandbox import Sandbox
from connector.adapters.transport import RetryPolicy

T0 = 1_763_000_000_000


class StatusLog(requests.Session):
    """A session that remembers every reply's status."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        reply = super().request(*args, **kwargs)
        self.statuses.append(reply.status_code)
        return reply


def seeded(sandbox: Sandbox, forms: int, per_form: int) -> list[str]:
    hs = sandbox.app.hubspot
    ids = [hs.create_form(f"Form {i}") for i in range(forms)]
    for i in range(forms * per_form):
        hs.add_submission(ids[i % forms], {"email": f"p{i}@example.com"}, submitted_at=T0 + i * 1000)
    return ids


def client(sandbox: Sandbox, session: requests.Session | None = None) -> HubSpotClient:
    return HubSpotClient(HubSpotSettings(sandbox.url, Secret(sandbox.token)), session=session,
                         retry=RetryPolicy.fast())


def test_many_forms_at_once_equal_one_after_another(sandbox):
    forms = seeded(sandbox, 5, 120)
    since = {f: T0 + 100_000 * n for n, f in enumerate(forms)}
    one_by_one = sorted((s for f, t in since.items() for s in client(sandbox).submissions(f, t)),
                        key=lambda s: (s.submitted_at, s.conversion_id))
    hs = client(sandbox)
    together = hs.submissions_many(since)
    assert [s.conversion_id for s in together] == [s.conversion_id for s in one_by_one]
    assert hs.calls == sandbox.counters["hubspot.submissions"] // 2  # the same pages, once each


def test_threads_share_the_pacing_so_the_limit_is_never_hit(sandbox):
    forms = seeded(sandbox, 4, 500)            # 40 pages against 19 calls a second
    sandbox.app.hubspot.set_rate_limit(per_10s=190, per_second=19)
    session = StatusLog()
    pulled = client(sandbox, session).submissions_many({f: 0 for f in forms})
    assert len(pulled) == 2000
    assert 429 not in session.statuses and len(session.statuses) == 40


def test_one_form_or_none(sandbox):
    forms = seeded(sandbox, 1, 3)
    assert len(client(sandbox).submissions_many({forms[0]: 0})) == 3
    assert client(sandbox).submissions_many({}) == []
