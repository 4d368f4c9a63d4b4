"""TOML + environment -> one validated :class:`Settings`; every mistake named by its key.

Secrets may live in the environment so config files can be committed without them. They
are held as :class:`Secret`, whose ``repr``/``str`` never show the value, so a Settings
object can be logged or put in an exception without leaking a token.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from connector.config.accounts import parse_account_matching
from connector.config.routing import parse_routing
from connector.core.accounts import AccountMatching
from connector.core.enrich.routing import Routing
from connector.core.ids import CUSTOM_FIELD
from connector.core.model import Method
from connector.errors import ConfigError


class Secret:
    """A token or password: usable via ``.reveal()``, invisible in logs and reprs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SalesforceSettings:
    instance_url: str
    access_token: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    security_token: Secret | None = None
    consumer_key: str | None = None
    consumer_secret: Secret | None = None
    api_version: str = "59.0"
    auto_assign: bool = False            # sent as Sforce-Auto-Assign on every write
    duplicate_rules: str = "respect"     # respect | allow: Sforce-Duplicate-Rule-Header allowSave
    lead_external_id_field: str | None = None
    budget_share: float = 0.8            # stop starting batches past this share of the org's API limit

    @property
    def is_sandbox(self) -> bool:
        return self.instance_url.startswith("http://")


@dataclass(frozen=True)
class HubSpotSettings:
    base_url: str = "https://api.hubapi.com"
    access_token: Secret | None = None
    page_size: int = 50


@dataclass(frozen=True)
class CampaignMap:
    form_id: str
    campaign_id: str
    member_status: str = "Responded"


# A batch's lookups and writes travel in composite calls of 5 queries or 5 x 200-record
# collections, so 1,000 responses is about one call per step; 2,000 is the most a batch may
# hold (memory and the budget check between batches stay fine-grained enough).
MAX_BATCH_SIZE = 2000


@dataclass(frozen=True)
class SyncSettings:
    lookback_seconds: int = 600
    batch_size: int = 1000               # responses per batch; see MAX_BATCH_SIZE
    on_multiple_matches: str = "oldest"  # oldest | newest
    unique_prefers: str = "contact"      # contact | lead: who wins under unique when both exist
    mapping: str = "mappings/default.toml"


@dataclass(frozen=True)
class Settings:
    method: Method
    salesforce: SalesforceSettings
    hubspot: HubSpotSettings
    state_path: Path
    campaigns: tuple[CampaignMap, ...]
    sync: SyncSettings = field(default_factory=SyncSettings)
    source: str = "<memory>"
    routing: Routing = field(default_factory=lambda: parse_routing(None))
    accounts: AccountMatching = field(default_factory=AccountMatching)

    def campaign_for(self, form_id: str) -> CampaignMap | None:
        for campaign in self.campaigns:
            if campaign.form_id == form_id:
                return campaign
        return None

    def mapping_path(self) -> Path:
        """The mapping file: the path as given if it exists, else beside the config file,
        else (for ``mappings/<name>``) the copy leadsync ships.

        An admin's own file wins; a config committed next to its mapping works from any
        working directory; an installed leadsync with no repo around it still has the
        default mapping. Found nowhere, the path is returned as given and the loader's
        error names it.
        """
        from connector.shipped import ShippedFileMissing, shipped_file

        path = Path(self.sync.mapping)
        if path.is_absolute() or path.exists():
            return path
        if self.source not in ("<memory>",):
            beside = Path(self.source).parent / path
            if beside.exists():
                return beside
        if path.parent == Path("mappings"):
            try:
                return shipped_file(path.name)
            except ShippedFileMissing:
                pass
        return path


_SECTIONS: dict[str, set[str]] = {
    "": {"method", "salesforce", "hubspot", "state", "campaigns", "sync", "routing", "accounts"},
    "salesforce": {"instance_url", "access_token", "username", "password", "security_token",
                   "consumer_key", "consumer_secret", "api_version", "auto_assign",
                   "lead_external_id_field", "budget_share", "duplicate_rules"},
    "hubspot": {"base_url", "access_token", "page_size"},
    "state": {"path"},
    "campaigns": {"form_id", "campaign_id", "member_status"},
    "sync": {"lookback", "batch_size", "on_multiple_matches", "unique_prefers", "mapping"},
}
_ENV_SECRETS = {
    ("salesforce", "access_token"): "LEADSYNC_SALESFORCE_ACCESS_TOKEN",
    ("salesforce", "password"): "LEADSYNC_SALESFORCE_PASSWORD",
    ("salesforce", "security_token"): "LEADSYNC_SALESFORCE_SECURITY_TOKEN",
    ("salesforce", "consumer_secret"): "LEADSYNC_SALESFORCE_CONSUMER_SECRET",
    ("hubspot", "access_token"): "LEADSYNC_HUBSPOT_ACCESS_TOKEN",
}


def parse_duration(text: str | int | float, *, key: str) -> int:
    """'30s', '5m', '1h', '1d' or a number of seconds -> seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ConfigError("must not be negative", key=key)
        return int(text)
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(text))
    if not m:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h)", key=key)
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def load_settings(path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None,
                  require_secrets: bool = True) -> Settings:
    """Read the config file named by ``path`` or ``LEADSYNC_CONFIG``.

    ``require_secrets=False`` is for commands that call no API (``status``): an admin on the
    box needs the state path, not the integration's tokens.
    """
    env = os.environ if env is None else env
    path = path or env.get("LEADSYNC_CONFIG")
    if not path:
        raise ConfigError("no configuration file: pass --config or set LEADSYNC_CONFIG")
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    data.update(overrides or {})
    return settings_from_dict(data, env=env, source=str(path), require_secrets=require_secrets)


def settings_from_dict(data: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                       source: str = "<memory>", require_secrets: bool = True) -> Settings:
    """Validate a parsed config; without ``require_secrets`` missing credentials are allowed
    (every other key is checked as usual, and credentials given are still read)."""
    env = os.environ if env is None else env
    _check_keys("", data)
    for section in ("salesforce", "hubspot", "state", "sync"):
        value = data.get(section, {})
        if not isinstance(value, Mapping):
            raise ConfigError("must be a table", key=section)
        _check_keys(section, value)

    method_text = data.get("method", "unique")
    try:
        method = Method(str(method_text).lower())
    except ValueError:
        raise ConfigError(f"unknown method {method_text!r}; choose poi, hybrid or unique",
                          key="method") from None

    sf = dict(data.get("salesforce", {}))
    hs = dict(data.get("hubspot", {}))
    for (section, key), var in _ENV_SECRETS.items():
        table = sf if section == "salesforce" else hs
        if env.get(var):
            table[key] = env[var]
    salesforce = _salesforce(sf, require_secrets)
    hubspot = _hubspot(hs, require_secrets)

    campaigns_raw = data.get("campaigns", [])
    if not isinstance(campaigns_raw, list) or not campaigns_raw:
        raise ConfigError("at least one [[campaigns]] entry (form_id, campaign_id) is required",
                          key="campaigns")
    campaigns = []
    seen: set[str] = set()
    for i, entry in enumerate(campaigns_raw):
        _check_keys("campaigns", entry, prefix=f"campaigns[{i}]")
        for key in ("form_id", "campaign_id"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ConfigError("is required", key=f"campaigns[{i}].{key}")
        if entry["form_id"] in seen:
            raise ConfigError(f"form {entry['form_id']} is mapped twice", key=f"campaigns[{i}].form_id")
        seen.add(entry["form_id"])
        status = str(entry.get("member_status", "Responded"))
        if not status or len(status) > 40:
            raise ConfigError("must be 1 to 40 characters (a CampaignMember Status)",
                              key=f"campaigns[{i}].member_status")
        campaigns.append(CampaignMap(entry["form_id"].strip(), entry["campaign_id"].strip(), status))

    sync_raw = data.get("sync", {})
    sync = SyncSettings(
        lookback_seconds=parse_duration(sync_raw.get("lookback", 600), key="sync.lookback"),
        batch_size=_int(sync_raw.get("batch_size", SyncSettings.batch_size), "sync.batch_size", 1,
                        MAX_BATCH_SIZE),
        on_multiple_matches=_choice(sync_raw.get("on_multiple_matches", "oldest"),
                                    "sync.on_multiple_matches", ("oldest", "newest")),
        unique_prefers=_choice(sync_raw.get("unique_prefers", "contact"), "sync.unique_prefers",
                               ("contact", "lead")),
        mapping=str(sync_raw.get("mapping", "mappings/default.toml")),
    )
    state_path = Path(str(data.get("state", {}).get("path", "state/leadsync.db")))
    routing = parse_routing(data.get("routing"), forms=[c.form_id for c in campaigns])
    if routing.mode == "assignment_rules":
        # Salesforce's own rules were chosen explicitly: every Lead write asks for them.
        salesforce = replace(salesforce, auto_assign=True)
    elif routing.mode == "rules" and salesforce.auto_assign:
        raise ConfigError("auto_assign = true would let Salesforce's assignment rules replace the "
                          "owners [routing] rules set; use routing.mode = \"assignment_rules\" "
                          "for Salesforce's rules, or set auto_assign = false",
                          key="salesforce.auto_assign")
    accounts = parse_account_matching(data.get("accounts"))
    return Settings(method, salesforce, hubspot, state_path, tuple(campaigns), sync, source,
                    routing, accounts)


def _salesforce(sf: dict[str, Any], require_secrets: bool = True) -> SalesforceSettings:
    url = sf.get("instance_url")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+/?$", url):
        raise ConfigError("must be the org's base URL, e.g. https://acme.my.salesforce.com",
                          key="salesforce.instance_url")
    secret = {k: Secret(str(sf[k])) for k in ("access_token", "password", "security_token",
                                              "consumer_secret") if sf.get(k)}
    has_token = "access_token" in secret
    has_password = bool(sf.get("username")) and "password" in secret
    has_client = bool(sf.get("consumer_key")) and "consumer_secret" in secret
    if require_secrets and not (has_token or has_password or has_client):
        raise ConfigError("missing: set access_token (or LEADSYNC_SALESFORCE_ACCESS_TOKEN), "
                          "or username + password (+ security_token), or consumer_key + "
                          "consumer_secret", key="salesforce.access_token")
    ext = sf.get("lead_external_id_field")
    if ext is not None and not CUSTOM_FIELD.fullmatch(str(ext)):
        raise ConfigError("must be the API name of a custom field, ending in __c",
                          key="salesforce.lead_external_id_field")
    share = sf.get("budget_share", 0.8)
    if not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ConfigError("must be a share between 0 and 1, e.g. 0.8",
                          key="salesforce.budget_share")
    version = str(sf.get("api_version", "59.0"))
    if not re.fullmatch(r"\d{2}\.0", version):
        raise ConfigError("must look like 59.0", key="salesforce.api_version")
    auto_assign = sf.get("auto_assign", False)
    if not isinstance(auto_assign, bool):
        raise ConfigError("must be true or false", key="salesforce.auto_assign")
    duplicates = _choice(sf.get("duplicate_rules", "respect"), "salesforce.duplicate_rules",
                         ("respect", "allow"))
    return SalesforceSettings(
        instance_url=url.rstrip("/"), access_token=secret.get("access_token"),
        username=sf.get("username"), password=secret.get("password"),
        security_token=secret.get("security_token"), consumer_key=sf.get("consumer_key"),
        consumer_secret=secret.get("consumer_secret"), api_version=version,
        auto_assign=auto_assign, lead_external_id_field=ext, budget_share=float(share),
        duplicate_rules=duplicates)


def _hubspot(hs: dict[str, Any], require_secrets: bool = True) -> HubSpotSettings:
    url = hs.get("base_url", "https://api.hubapi.com")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+/?$", url):
        raise ConfigError("must be a base URL such as https://api.hubapi.com", key="hubspot.base_url")
    if require_secrets and not hs.get("access_token"):
        raise ConfigError("missing: set it or LEADSYNC_HUBSPOT_ACCESS_TOKEN (a private app token)",
                          key="hubspot.access_token")
    token = Secret(str(hs["access_token"])) if hs.get("access_token") else None
    return HubSpotSettings(url.rstrip("/"), token, _int(hs.get("page_size", 50), "hubspot.page_size", 1, 50))


def _check_keys(section: str, table: Mapping[str, Any], prefix: str | None = None) -> None:
    allowed = _SECTIONS[section]
    for key in table:
        if key not in allowed:
            where = prefix or section
            name = f"{where}.{key}" if where else key
            raise ConfigError(f"unknown key; expected one of {', '.join(sorted(allowed))}", key=name)


def _int(value: Any, key: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"must be a whole number from {low} to {high}", key=key)
    return value


def _choice(value: Any, key: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ConfigError(f"must be one of {', '.join(options)}", key=key)
    return str(value)
