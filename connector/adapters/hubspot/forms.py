"""HubSpot adapter: read a form's submissions since a point in time, oldest first.

HubSpot's v1 submissions API has no "since" filter and pages newest first, 50 at most; so
we page back until a page reaches past ``since`` and then hand the window over oldest first.

hubspot-api-client does not wrap this endpoint. Its ``api_request`` helper sends through the
module-level ``requests`` with no timeout (a hung socket would hang a daemon forever) and
prints errors to stdout, so we let the library build the request (auth header, URL, query
string) and send it through our own session, with a timeout and keep-alive.
"""

from __future__ import annotations

import hashlib
import json
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Generator, Iterator, Mapping

import hubspot  # type: ignore[import-untyped]  # hubspot-api-client ships no type hints
import requests
from hubspot.utils.requests.http_request_builder import Request as HubSpotRequest  # type: ignore[import-untyped]

from connector.config.settings import HubSpotSettings
from connector.errors import ApiError, AuthError, TransientError
from connector.core.model import Submission
from connector.adapters.hubspot.oauth import RefreshTokens
from connector.adapters.transport import (ApiSession, RetryPolicy, Verdict, classify, parse_retry_after,
                                         with_retries)


# Forms paged at once. A form's pages can only be read one after another (each names the
# next), so the pull lasts as long as its longest form when every form has a lane; HubSpot's
# rate limit, not the lane count, caps the request rate (every lane paces on its headers).
# Within requests' default pool of 10 connections per host.
FORM_WORKERS = 8
PAGES_AHEAD = 8    # pages pages_many holds for a slow consumer before the paging threads wait
_FORM_DONE = object()


class HubSpotClient:
    def __init__(self, settings: HubSpotSettings, *, session: requests.Session | None = None,
                 retry: RetryPolicy = RetryPolicy(), timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        token = settings.access_token.reveal() if settings.access_token else ""
        self.client = hubspot.Client.create(access_token=token, host=settings.base_url,
                                            base_url=settings.base_url)
        self.settings = settings
        self.session = session or ApiSession()
        self.retry = retry
        self.timeout = timeout
        self.sleep = sleep
        self.calls = 0
        self._calls_lock = threading.Lock()   # forms are paged from several threads
        self.missing_forms: set[str] = set()  # forms the last pages_many found 404 (not in HubSpot)
        self._lanes = 1                       # threads paging at once (see submissions_many)
        self._resume_at = 0.0                 # monotonic time no thread sends before (pacing)
        # auth = "refresh_token": access tokens from the OAuth app's refresh token (oauth.py)
        self.tokens = (RefreshTokens(settings, self.session, timeout=timeout)
                       if settings.auth == "refresh_token" else None)

    def get(self, path: str, qs: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GET with retries; returns the parsed JSON body (see :meth:`request`)."""
        return self.request("GET", path, qs)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One POST of a JSON body with retries (a search: it reads, so a retry is safe)."""
        return self.request("POST", path, None, body)

    def request(self, method: str, path: str, qs: dict[str, Any] | None = None,
                payload: Any = None) -> dict[str, Any]:
        """One call with retries (only reads: a GET, or a search POST); the parsed JSON body.

        With a refresh token, each attempt carries the current access token (the request is
        built per attempt), and a 401 refreshes it once per call before the error stands."""
        renewed = False

        def attempt() -> dict[str, Any]:
            nonlocal renewed
            config = self.client.config
            token = self.tokens.current() if self.tokens else None
            if token is not None:
                config = {**config, "access_token": token}
            options: dict[str, Any] = {"method": method, "path": path, "qs": dict(qs or {})}
            if payload is not None:
                options["body"] = payload
            request = HubSpotRequest(config, options)
            self._wait_turn()
            with self._calls_lock:
                self.calls += 1
            try:
                reply = self.session.request(request.get_method(), request.get_url(),
                                             timeout=self.timeout, **request.get_options_for_sending())
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"HubSpot {method} {path}: {type(exc).__name__}") from None
            body = _json(reply)
            verdict = classify(reply.status_code, body)
            if verdict is Verdict.OK:
                self._pace(reply.headers)
                return body if isinstance(body, dict) else {}
            if verdict is Verdict.RETRY:
                raise TransientError(f"HubSpot {method} {path}: {reply.status_code}",
                                     retry_after=parse_retry_after(reply.headers.get("Retry-After")),
                                     status=reply.status_code)
            lacking = missing_scopes_error(f"{method} {path}", reply.status_code, body)
            if lacking is not None:
                # The token is good, its app lacks a scope this call needs: callers reading
                # one stream (an event) pause that stream; anywhere else it stops the run,
                # as a refused token does.
                raise lacking
            message = body.get("message") if isinstance(body, dict) else reply.text[:200]
            if verdict is Verdict.EXPIRED and self.tokens and token is not None and not renewed:
                renewed = True
                self.tokens.refused(token)
                raise TransientError("HubSpot access token refused; refreshing it", retry_after=0)
            if verdict is Verdict.EXPIRED or reply.status_code == 403:
                raise AuthError(f"HubSpot refused the access token ({reply.status_code}): {message}",
                                service="hubspot", status=reply.status_code)
            raise ApiError(f"HubSpot {method} {path} failed: {message}", service="hubspot",
                           status=reply.status_code)

        return with_retries(attempt, self.retry)

    def _pace(self, headers: Any) -> None:
        """Slow down before HubSpot says 429: its headers say how much of the window is left.

        With several threads paging, the others may each have a call in flight that counts
        against the same window, so every thread pauses while that many slots remain.
        """
        margin = self._lanes - 1
        for remaining, window in (("X-HubSpot-RateLimit-Secondly-Remaining", 1.0),
                                  ("X-HubSpot-RateLimit-Remaining", None)):
            value = headers.get(remaining)
            if value is not None and value.isdigit() and int(value) <= margin:
                if window is None:
                    ms = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
                    window = int(ms) / 1000 if str(ms).isdigit() else 10.0
                with self._calls_lock:
                    self._resume_at = max(self._resume_at, time.monotonic() + window)
                self._wait_turn()
                return

    def _wait_turn(self) -> None:
        """Hold this thread while the pacing pause that any thread started is running."""
        with self._calls_lock:
            delay = self._resume_at - time.monotonic()
        if delay > 0:
            self.sleep(delay)

    def submissions(self, form_id: str, since_ms: int) -> list[Submission]:
        """The form's submissions with ``submittedAt >= since_ms``, oldest first."""
        window = [s for page in self._window_pages(form_id, since_ms) for s in page]
        window.sort(key=lambda s: (s.submitted_at, s.conversion_id))
        return window

    def submissions_many(self, since_by_form: Mapping[str, int], *, workers: int = FORM_WORKERS
                         ) -> list[Submission]:
        """Several forms' windows (``form id -> since_ms``), fetched concurrently, oldest first.

        A form's pages must be read one after another (each holds the next cursor), but forms
        are independent: with 50 ms a round trip, 10,000 submissions over 5 forms take 2 s
        this way instead of 10 s. The pool is small on purpose: HubSpot allows about 10
        calls a second per app at the low tiers, and ``_pace`` slows each thread when the
        rate-limit headers say the window is nearly spent. The first error is raised once
        the other forms have finished (nothing is half-returned).
        """
        forms = list(since_by_form.items())
        if len(forms) <= 1 or workers <= 1:
            windows = [self.submissions(form_id, since) for form_id, since in forms]
        else:
            self._lanes = min(workers, len(forms))
            try:
                with ThreadPoolExecutor(max_workers=self._lanes,
                                        thread_name_prefix="leadsync-hubspot") as pool:
                    futures = [pool.submit(self.submissions, form_id, since)
                               for form_id, since in forms]
                    windows = [f.result() for f in futures]
            finally:
                self._lanes = 1
        merged = [sub for window in windows for sub in window]
        merged.sort(key=lambda s: (s.submitted_at, s.conversion_id))
        return merged

    def pages_many(self, since_by_form: Mapping[str, int], *, workers: int = FORM_WORKERS,
                   ahead: int = PAGES_AHEAD) -> Generator[list[Submission], None, None]:
        """Several forms' windows page by page, as the pages arrive (no order across forms).

        For a caller that stages each page as it comes (the sync), so memory holds a few
        pages rather than the window: forms are paged on their own threads, as in
        :meth:`submissions_many`, and hand their pages over through a queue of ``ahead``
        pages; a thread whose page is not taken yet waits. The first error of any form is
        raised at once; the other threads stop before their next page, and so do they when
        the caller stops iterating. A form HubSpot answers 404 for is not an error: it ends
        its lane and is listed in ``missing_forms``.
        """
        forms = list(since_by_form.items())
        if not forms:
            return
        pages: queue.Queue[Any] = queue.Queue(maxsize=ahead)
        stop = threading.Event()

        self.missing_forms = set()

        def page_form(form_id: str, since_ms: int) -> None:
            try:
                for page in self._window_pages(form_id, since_ms, stop):
                    _hand_over(pages, page, stop)
                _hand_over(pages, _FORM_DONE, stop)
            except ApiError as exc:
                if exc.status == 404:
                    # HubSpot has no such form: that form alone is paused (the engine names
                    # its config entry); the others' pages go on.
                    with self._calls_lock:
                        self.missing_forms.add(form_id)
                    _hand_over(pages, _FORM_DONE, stop)
                else:
                    _hand_over(pages, exc, stop)
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                _hand_over(pages, exc, stop)

        self._lanes = min(max(1, workers), len(forms))
        pool = ThreadPoolExecutor(max_workers=self._lanes, thread_name_prefix="leadsync-hubspot")
        try:
            for form_id, since in forms:
                pool.submit(page_form, form_id, since)
            finished = 0
            while finished < len(forms):
                item = pages.get()
                if item is _FORM_DONE:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._lanes = 1

    def _window_pages(self, form_id: str, since_ms: int, stop: threading.Event | None = None
                      ) -> Iterator[list[Submission]]:
        """The form's pages newest first, each cut to ``submittedAt >= since_ms``; the
        paging ends on the page that reaches past ``since_ms`` (or when ``stop`` is set)."""
        after: str | None = None
        while stop is None or not stop.is_set():
            qs: dict[str, Any] = {"limit": self.settings.page_size}
            if after:
                qs["after"] = after
            page = self.get(f"/form-integrations/v1/submissions/forms/{form_id}", qs)
            results = page.get("results") or []
            subs = [to_submission(form_id, item) for item in results]
            window = [sub for sub in subs if sub.submitted_at >= since_ms]
            if window:
                yield window
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or not subs or len(window) < len(subs):
                return

    def portal_id(self) -> int | None:
        return self.get("/account-info/v3/details").get("portalId")

    def form_names(self) -> dict[str, str]:
        """Form id -> name, every page of forms v3, every form type: a follow-up Task names
        the form a rep will recognise ("Demo request"), not its GUID. HubSpot lists only
        ``formType=hubspot`` forms unless asked (``forms_query``)."""
        names: dict[str, str] = {}
        after: str | None = None
        while True:
            page = self.get("/marketing/v3/forms/", forms_query(after))
            for form in page.get("results") or []:
                if form.get("id"):
                    names[str(form["id"])] = str(form.get("name") or form["id"])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or not page.get("results"):
                return names


def forms_query(after: str | None = None) -> dict[str, Any]:
    """The forms v3 list's query: every form type, not HubSpot's default of ``hubspot`` only,
    so non-HubSpot ("captured") and pop-up ("flow") forms are listed too (the OpenAPI spec's
    ``formTypes`` array, sent as repeated parameters; ``all`` is one of its values)."""
    return {"limit": 100, "formTypes": ["all"], **({"after": after} if after else {})}


def to_submission(form_id: str, item: dict[str, Any]) -> Submission:
    """A v1 result item -> Submission. Odd items still get a stable key, so none is lost."""
    values: dict[str, str] = {}
    for entry in item.get("values") or []:
        if not isinstance(entry, dict) or "name" not in entry:
            continue
        # Field names repeat on every submission: one shared string each, not one per fill
        # (about 30 MB fewer for a 100,000-submission backlog).
        name = sys.intern(str(entry["name"]))
        value = "" if entry.get("value") is None else str(entry["value"])
        values[name] = f"{values[name]};{value}" if name in values else value  # multi-checkbox
    conversion_id = item.get("conversionId")
    if not conversion_id:
        digest = hashlib.sha1(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()
        conversion_id = f"nokey-{digest[:24]}"
    try:
        submitted_at = int(item.get("submittedAt") or 0)
    except (TypeError, ValueError):
        submitted_at = 0
    return Submission(str(conversion_id), form_id, submitted_at, values, item.get("pageUrl"))


def _hand_over(pages: "queue.Queue[Any]", item: Any, stop: threading.Event) -> None:
    """Put ``item`` in the queue, waiting while it is full, unless the consumer has gone."""
    while not stop.is_set():
        try:
            pages.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


def missing_scopes_error(what: str, status: int, body: Any) -> AuthError | None:
    """HubSpot's 403 ``MISSING_SCOPES`` as the error an admin acts on: the scope to add to
    the private app (not "refused the access token": the token is good); None for any other
    reply."""
    if status != 403 or not isinstance(body, dict) or body.get("category") != "MISSING_SCOPES":
        return None
    return AuthError(f"HubSpot: the app's token lacks the scope {_scopes(body)} "
                     f"({what}: 403 MISSING_SCOPES)", service="hubspot", status=403,
                     code="MISSING_SCOPES")


def _scopes(body: dict[str, Any]) -> str:
    """The scopes a MISSING_SCOPES reply names (``errors[].context.requiredGranularScopes``),
    as an admin reads them. A route with many alternatives (the properties routes list 100,
    one per kind of object) is shown by its plain contacts scopes, the ones a leadsync app
    is given, and a count of the rest: a hundred names would hide the one to add."""
    names: list[str] = []
    for error in body.get("errors") or []:
        context = error.get("context") if isinstance(error, dict) else None
        if isinstance(context, dict):
            names += [str(n) for n in context.get("requiredGranularScopes") or []]
    names = list(dict.fromkeys(names))
    if len(names) <= 4:
        return " or ".join(names) or "(not named)"
    shown = [n for n in names if ".contacts." in n and "sensitive" not in n][:4] or names[:3]
    return f"{' or '.join(shown)} (or one of {len(names) - len(shown)} other scopes HubSpot lists)"


def _json(reply: requests.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None
