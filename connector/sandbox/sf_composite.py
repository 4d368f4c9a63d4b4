"""Salesforce composite requests: up to 25 subrequests in one call, each able to refer to
an earlier one's reply (``@{ref.path}``), all or nothing on request.

Split out of ``salesforce_api``: subrequests run through the same data routes, unmetered
(the composite call counts once), and ``allOrNone`` rolls back through the store's journal.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from . import sf_limits
from .http import Request, Response, Router
from .sf_errors import SfError
from .sf_rest_common import V as _V
from .sf_rest_common import RouteHost, err

MAX_COMPOSITE = 25
_REF_RE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_HALTED = ("The transaction was rolled back since another operation in the same transaction "
           "failed.")


class _RefError(Exception):
    pass


class Composite:
    """The /composite route; ``sub`` holds the data routes subrequests may use."""

    def __init__(self, api: RouteHost, sub: Router) -> None:
        self.api = api
        self.sub = sub

    def run(self, req: Request) -> Response:
        body = req.json()
        subs = body.get("compositeRequest") if isinstance(body, Mapping) else None
        if not isinstance(subs, list) or not subs:
            raise SfError("JSON_PARSER_ERROR", "compositeRequest must be a non-empty array")
        if len(subs) > MAX_COMPOSITE:
            raise SfError("LIMIT_EXCEEDED", f"Limit Exceeded. A composite request can contain "
                          f"at most {MAX_COMPOSITE} subrequests.")
        sf_limits.check_composite(subs)
        refs = [s.get("referenceId") if isinstance(s, Mapping) else None for s in subs]
        for ref in refs:
            if not isinstance(ref, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", ref):
                raise SfError("INVALID_INPUT", f"Invalid referenceId: {ref!r}. A referenceId "
                              "must start with a letter and contain only letters, numbers and "
                              "underscores.")
        if len(set(refs)) != len(refs):
            raise SfError("INVALID_INPUT", "Duplicate referenceId provided in the request")
        all_or_none = bool(body.get("allOrNone", False))
        start = self.api.store.mark()
        bodies: dict[str, Any] = {}
        responses: list[dict[str, Any]] = []
        failed = False
        for sub in subs:
            ref = sub["referenceId"]
            if failed and all_or_none:
                responses.append(self._halted(ref))
                continue
            try:
                url = self._resolve(sub.get("url") or "", bodies, in_url=True)
                sub_body = self._resolve(sub.get("body"), bodies)
            except _RefError as exc:
                failed = True
                responses.append({"body": [{"errorCode": "PROCESSING_HALTED",
                                            "message": str(exc)}], "httpHeaders": {},
                                  "httpStatusCode": 400, "referenceId": ref})
                continue
            resp = self._subrequest(req, str(sub.get("method") or "GET").upper(), url, sub_body,
                                    headers=sub.get("httpHeaders") or {})
            parsed = json.loads(resp.body) if resp.body else None
            if resp.status < 300:
                bodies[ref] = parsed
            else:
                failed = True
            headers = {"Location": resp.headers["Location"]} if "Location" in resp.headers else {}
            responses.append({"body": parsed, "httpHeaders": headers,
                              "httpStatusCode": resp.status, "referenceId": ref})
        if all_or_none and failed:
            self.api.store.rollback(start)
            responses = [r if r["httpStatusCode"] >= 400 else self._halted(r["referenceId"])
                         for r in responses]
        return Response.json(200, {"compositeResponse": responses})

    @staticmethod
    def _halted(ref: str) -> dict[str, Any]:
        return {"body": [{"errorCode": "PROCESSING_HALTED", "message": _HALTED}],
                "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref}

    def _resolve(self, value: Any, bodies: Mapping[str, Any], in_url: bool = False) -> Any:
        """Replace ``@{ref.path}`` references with values from earlier subrequest responses."""
        if isinstance(value, dict):
            return {k: self._resolve(v, bodies) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v, bodies) for v in value]
        if not isinstance(value, str) or "@{" not in value:
            return value

        def lookup(m: re.Match[str]) -> Any:
            ref, path = m.group(1), m.group(2)
            expr = ref + path
            if ref not in bodies:
                raise _RefError(f"Invalid reference specified. No value for {expr} found in "
                                f"{ref}. Provided referenceId ({ref}) must be a previous "
                                "successful subrequest.")
            current = bodies[ref]
            for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
                key, index = step
                try:
                    current = current[key] if key else current[int(index)]
                except (KeyError, IndexError, TypeError):
                    raise _RefError(f"Invalid reference specified. No value for {expr} found "
                                    f"in {ref}.") from None
            return current

        whole = _REF_RE.fullmatch(value)
        if whole and not in_url:
            return lookup(whole)
        return _REF_RE.sub(lambda m: str(lookup(m)), value)

    def _subrequest(self, outer: Request, method: str, url: str, body: Any,
                    *, headers: Mapping[str, str]) -> Response:
        merged = {k: v for k, v in outer.headers.items()}
        merged.update(headers)
        raw = b"" if body is None else json.dumps(body).encode("utf-8")
        sub = Request.build(method, url, merged, raw)
        route, params, known = self.sub.match(method, sub.path)
        if route is None:
            if re.match(_V + r"/composite/?$", sub.path):
                return err(400, "INVALID_INPUT", "A composite subrequest cannot be a composite "
                           "request")
            return self.api.not_found(sub, known)
        sub.params = params
        mark = self.api.store.mark()
        resp = self.api._safely(route.handler, sub)
        if resp.status >= 400:
            self.api.store.rollback(mark)
        return resp
