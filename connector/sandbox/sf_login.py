"""Salesforce login: the OAuth token endpoint and the SOAP ``login()`` call.

Split out of ``salesforce_api``: checking the org's configured credentials and answering
the client-credentials, password, JWT bearer and refresh-token grants (the last two in
``sf_oauth``) and the partner SOAP login, each with Salesforce's own refusals.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from html import escape, unescape
from urllib.parse import parse_qs

from . import sf_oauth
from .http import Request, Response
from .sf_rest_common import ORG_ID, RouteHost


class Login:
    """The token and SOAP login routes, against the credentials the dataset set."""

    def __init__(self, api: RouteHost) -> None:
        self.api = api

    def check(self, **given: str | None) -> bool:
        for key, value in given.items():
            expected = self.api.credentials.get(key)
            if expected is None:
                if not value:
                    return False
            elif key == "password":
                # the password grant and SOAP login append the security token
                if not value or not value.startswith(expected):
                    return False
            elif value != expected:
                return False
        return True

    def token(self, req: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace"),
                                              keep_blank_values=True).items()}
        grant = form.get("grant_type")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = req.header("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = client_secret = None
        if grant == "client_credentials":
            if not self.check(client_id=client_id, client_secret=client_secret):
                return Response.json(400, {"error": "invalid_client",
                                           "error_description": "invalid client credentials"})
        elif grant in (sf_oauth.JWT_BEARER, "refresh_token"):
            refused = self.api.grants.handle(grant, form, (client_id, client_secret))
            if refused is not None:
                return refused
        elif grant == "password":
            if not self.check(client_id=client_id, client_secret=client_secret,
                              username=form.get("username"), password=form.get("password")):
                return Response.json(400, {"error": "invalid_grant",
                                           "error_description": "authentication failure"})
        else:
            return Response.json(400, {"error": "unsupported_grant_type",
                                       "error_description": "grant type not supported"})
        issued = str(int(time.time() * 1000))
        ident = f"{self.api.app.base_url}/id/{ORG_ID}/{self.api.store.api_user_id}"
        signature = base64.b64encode(hmac.new(self.api.app.token.encode(),
                                              (ident + issued).encode(),
                                              hashlib.sha256).digest()).decode()
        return Response.json(200, {"access_token": self.api.app.token,
                                   "instance_url": self.api.app.base_url, "id": ident,
                                   "token_type": "Bearer", "issued_at": issued,
                                   "signature": signature})

    def soap_login(self, req: Request) -> Response:
        text = req.body.decode("utf-8", "replace")

        def element(name: str) -> str | None:
            m = re.search(rf"<(?:\w+:)?{name}>(.*?)</(?:\w+:)?{name}>", text, re.S)
            return unescape(m.group(1)) if m else None

        username, password = element("username"), element("password")
        if username is None or not self.check(username=username, password=password):
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
                '<soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: '
                'Invalid username, password, security token; or user locked out.</faultstring>'
                '<detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN'
                '</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, security '
                'token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail>'
                '</soapenv:Fault></soapenv:Body></soapenv:Envelope>')
            return Response.text(500, body, "text/xml;charset=UTF-8")
        version = req.params.get("version", "59.0")
        base = self.api.app.base_url
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse>'
            f'<result><metadataServerUrl>{base}/services/Soap/m/{version}/{ORG_ID}'
            '</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox>'
            f'<serverUrl>{base}/services/Soap/u/{version}/{ORG_ID}</serverUrl>'
            f'<sessionId>{escape(self.api.app.token)}</sessionId>'
            f'<userId>{self.api.store.api_user_id}</userId><userInfo><organizationId>{ORG_ID}'
            f'</organizationId><userName>{escape(username)}</userName></userInfo></result>'
            '</loginResponse></soapenv:Body></soapenv:Envelope>')
        return Response.text(200, body, "text/xml;charset=UTF-8")
