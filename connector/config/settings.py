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

from connector.config import auth as login
from connector.config import validate as v
from connector.config.accounts import parse_account_matching
from connector.config.alerts import AlertSettings, parse_alerts
from connector.config.env_overrides import apply_env_overrides
from connector.config.lifecycle import parse_lifecycle
from connector.config.routing import parse_routing
from connector.config.scoring import parse_scoring
from connector.config.sources import EventStatuses, entry_source
from connector.config.writeback import WritebackSettings, parse_writeback
from connector.core.enrich.scoring import Scoring
from connector.core.accounts import AccountMatching
from connector.core.enrich.routing import Routing
from connector.core.ids import CUSTOM_FIELD
from connector.core.lifecycle.rules import LifecycleRules
from connector.core.model import Method
from connector.core.watermarks import DEFAULT_START_AGE, StartPoint
from connector.config.secret import Secret
from connector.errors import ConfigError

# [sync] poi_delivery: what an admin accepts for poi's Leads (see check_method).
EXACTLY_ONCE, AT_LEAST_ONCE = "exactly_once", "at_least_once"
POI_DELIVERY = (EXACTLY_ONCE, AT_LEAST_ONCE)
DEFAULT_START = "30d"      # [sync] start: how far back a form without a watermark is read


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
    auth: str | None = None              # None: inferred from the credentials, as before `auth`
    private_key_file: str | None = None  # auth = "jwt": the PEM key the connected app's cert matches
    login_url: str | None = None         # where logins go; None: login.salesforce.com (or the sandbox)
    refresh_token: Secret | None = None  # auth = "refresh_token": LEADSYNC_SALESFORCE_REFRESH_TOKEN

    @property
    def is_sandbox(self) -> bool:
        return self.instance_url.startswith("http://")


@dataclass(frozen=True)
class HubSpotSettings:
    base_url: str = "https://api.hubapi.com"
    access_token: Secret | None = None
    page_size: int = 50
    auth: str = "private_app"            # or "refresh_token" (an OAuth app's client + token)
    client_id: str | None = None
    client_secret: Secret | None = None
    refresh_token: Secret | None = None  # LEADSYNC_HUBSPOT_REFRESH_TOKEN, environment only


@dataclass(frozen=True)
class CampaignMap:
    """One ``[[campaigns]]`` entry. ``form_id`` is the entry's *stream* (a form's guid, as
    earlier releases keyed it; ``event:<objectId>``; ``meetings``): the ledger, watermarks
    and landings key on it whatever the source (``connector.config.sources``)."""

    form_id: str
    campaign_id: str
    member_status: str = "Responded"
    source: str = "form"                       # form | event | meetings
    event_id: str | None = None                # the marketing event's objectId
    statuses: EventStatuses | None = None      # an event's member status per state

    @property
    def stream(self) -> str:
        return self.form_id


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
    poi_delivery: str = EXACTLY_ONCE     # exactly_once | at_least_once: see check_method
    start: StartPoint = field(default_factory=lambda: StartPoint(age_seconds=DEFAULT_START_AGE))
    probe: bool = True                   # the daemon asks HubSpot which forms have news (freshness)
    full_sweep_seconds: int = 3600       # ... and pages every form this often regardless


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
    base: Path | None = None     # the config file's folder: relative paths resolve against it
    alerts: AlertSettings = field(default_factory=AlertSettings)   # [alerts]: health rules, webhook
    writeback: WritebackSettings | None = None   # [writeback]: properties kept on HubSpot contacts
    lifecycle: LifecycleRules | None = None   # [lifecycle]: after the hand-off (None: off)
    scoring: Scoring | None = None   # [scoring]: leadsync's own score (connector.config.scoring)

    def campaign_for(self, form_id: str) -> CampaignMap | None:
        for campaign in self.campaigns:
            if campaign.form_id == form_id:
                return campaign
        return None

    def mapping_path(self) -> Path:
        """The mapping file.

        Read from a file (``base`` set), a relative path is the config file's folder's, so
        leadsync finds the same mapping from any working directory (cron, systemd, a shell
        in another folder); ``mappings/<name>`` missing there is the copy leadsync ships,
        so an installed leadsync with no repo around it still has the default mapping.
        Given as a dict (tests, the demo; no ``base``), the path is taken as given if it
        exists, else beside ``source``, else shipped, as before. Found nowhere, the path is
        returned as given and the loader's error names it.
        """
        from connector.shipped import ShippedFileMissing, shipped_file

        path = Path(self.sync.mapping)
        if path.is_absolute():
            return path
        if self.base is not None:
            candidates = [self.base / path]
        else:
            candidates = [path]
            if self.source not in ("<memory>",):
                candidates.append(Path(self.source).parent / path)
        for candidate in candidates:
            if candidate.exists():
                return candidate
        if path.parent == Path("mappings"):
            try:
                return shipped_file(path.name)
            except ShippedFileMissing:
                pass
        return candidates[0]


_SECTIONS: dict[str, set[str]] = {
    "": {"method", "salesforce", "hubspot", "state", "campaigns", "sync", "routing", "accounts",
           "alerts", "writeback", "lifecycle", "scoring"},
    "salesforce": {"instance_url", "access_token", "username", "password", "security_token",
                   "consumer_key", "consumer_secret", "api_version", "auto_assign",
                   "lead_external_id_field", "budget_share", "duplicate_rules", "auth",
                   "private_key_file", "login_url"},
    "hubspot": {"base_url", "access_token", "page_size", "auth", "client_id", "client_secret"},
    "state": {"path"},
    "campaigns": {"form_id", "campaign_id", "member_status", "event_id", "statuses", "meetings"},
    "sync": {"lookback", "batch_size", "on_multiple_matches", "unique_prefers", "mapping",
             "poi_delivery", "start", "probe", "full_sweep_every"},
}
_ENV_SECRETS = {
    ("salesforce", "access_token"): "LEADSYNC_SALESFORCE_ACCESS_TOKEN",
    ("salesforce", "password"): "LEADSYNC_SALESFORCE_PASSWORD",
    ("salesforce", "security_token"): "LEADSYNC_SALESFORCE_SECURITY_TOKEN",
    ("salesforce", "consumer_secret"): "LEADSYNC_SALESFORCE_CONSUMER_SECRET",
    ("hubspot", "access_token"): "LEADSYNC_HUBSPOT_ACCESS_TOKEN",
    ("hubspot", "client_secret"): "LEADSYNC_HUBSPOT_CLIENT_SECRET",
    **login.ENV_ONLY,   # refresh tokens: the environment only, never a key of the file
}
_SECRET_KEYS = ("access_token", "password", "security_token", "consumer_secret", "refresh_token")


def parse_duration(text: str | int | float, *, key: str) -> int:
    """'30s', '5m', '1h30m', '7d' or a number of seconds -> seconds, or a ConfigError naming
    ``key``: the config file's grammar, for callers outside the config package."""
    return v.duration(text, key)


def load_settings(path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None,
                  require_secrets: bool = True) -> Settings:
    """Read the config file named by ``path`` or ``LEADSYNC_CONFIG``.

    Relative paths in it (``[state] path``, ``[sync] mapping``) are the file's folder's, not
    the working directory's: ``leadsync status`` run from another folder must read the
    daemon's ledger, not create an empty one. ``require_secrets=False`` is for commands that
    call no API (``status``): an admin on the box needs the state path, not the tokens.
    ``LEADSYNC_<SECTION>__<KEY>`` variables in ``env`` override the file's values
    (``connector.config.env_overrides``).
    """
    env = os.environ if env is None else env
    path = path or env.get("LEADSYNC_CONFIG")
    if not path:
        raise ConfigError("no configuration file: pass --config or set LEADSYNC_CONFIG")
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"configuration file is a folder: {path}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    data = apply_env_overrides(data, env)   # before validation: a bad value names its key
    data.update(overrides or {})
    return settings_from_dict(data, env=env, source=str(path), require_secrets=require_secrets,
                              base=Path(path).resolve().parent)


def settings_from_dict(data: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                       source: str = "<memory>", require_secrets: bool = True,
                       base: Path | None = None) -> Settings:
    """Validate a parsed config; without ``require_secrets`` missing credentials are allowed
    (every other key is checked as usual, and credentials given are still read).

    ``base`` is the folder relative paths resolve against (``load_settings`` passes the
    config file's); without it they stay as given, relative to the working directory.
    Every value is type-checked (``connector.config.validate``): a wrong type is a
    ConfigError naming its key, never a traceback.
    """
    env = os.environ if env is None else env
    v.check_keys(data, _SECTIONS[""], "")
    sections = {name: v.check_keys(data.get(name, {}), _SECTIONS[name], name)
                for name in ("salesforce", "hubspot", "state", "sync")}

    method_text = data.get("method", "unique")
    try:
        method = Method(method_text.lower() if isinstance(method_text, str) else method_text)
    except ValueError:
        raise ConfigError(f"unknown method {method_text!r}; choose poi, hybrid or unique",
                          key="method") from None

    sf = dict(sections["salesforce"])
    hs = dict(sections["hubspot"])
    for (section, key), var in _ENV_SECRETS.items():
        table = sf if section == "salesforce" else hs
        if env.get(var):
            table[key] = env[var]
    salesforce = _salesforce(sf, require_secrets, base)
    hubspot = _hubspot(hs, require_secrets)
    campaigns = _campaigns(data.get("campaigns"))
    sync = _sync(sections["sync"], base)
    state_path = _path(v.path_text(sections["state"].get("path", "state/leadsync.db"),
                                   "state.path"), base)
    scoring = parse_scoring(data.get("scoring"), forms=[c.form_id for c in campaigns])
    routing = parse_routing(data.get("routing"), forms=[c.form_id for c in campaigns],
                            scored=scoring is not None)
    if routing.mode == "assignment_rules":
        # Salesforce's own rules were chosen explicitly: every Lead write asks for them.
        salesforce = replace(salesforce, auto_assign=True)
    elif routing.mode == "rules" and salesforce.auto_assign:
        raise ConfigError("auto_assign = true would let Salesforce's assignment rules replace the "
                          "owners [routing] rules set; use routing.mode = \"assignment_rules\" "
                          "for Salesforce's rules, or set auto_assign = false",
                          key="salesforce.auto_assign")
    accounts = parse_account_matching(data.get("accounts"))
    settings = Settings(method, salesforce, hubspot, state_path, campaigns, sync, source,
                        routing, accounts, base, parse_alerts(data.get("alerts"), env))
    settings = replace(settings, writeback=parse_writeback(data.get("writeback")),
                       lifecycle=parse_lifecycle(data.get("lifecycle"), routing), scoring=scoring)
    check_method(settings, method)
    return settings


def check_method(settings: Settings, method: Method | None) -> None:
    """Refuse ``poi`` without the Lead external id field, unless at-least-once was chosen.

    Under ``poi`` every response is a new Lead, so nothing but the response's id on the Lead
    (``lead_external_id_field``, written by upsert) tells a replayed write from a new one: a
    run interrupted after Salesforce applied a batch (a lost reply, a killed process) would
    otherwise create every Lead of that batch again. That is refused where it is decided, at
    configuration time, for the configured method and for a ``--method poi`` override alike
    (the CLI and the engine call this with the override). An admin who accepts duplicates
    says so by name: ``[sync] poi_delivery = "at_least_once"``.
    """
    if method is not Method.POI or settings.salesforce.lead_external_id_field:
        return
    if settings.sync.poi_delivery == AT_LEAST_ONCE:
        return
    raise ConfigError(
        'method "poi" creates a Lead per response; without a Lead External ID field an '
        "interrupted batch is created twice. Add one (Setup > Object Manager > Lead > Fields: "
        "Text(255), External ID and Unique checked, e.g. Leadsync_Response_Id__c), set it "
        "here, and verify it with `leadsync mappings check`; or accept duplicates with "
        '[sync] poi_delivery = "at_least_once"', key="salesforce.lead_external_id_field")


def _path(text: str, base: Path | None) -> Path:
    """A path from the config: relative ones are the config file's folder's (``base``)."""
    path = Path(text).expanduser()
    return path if base is None or path.is_absolute() else base / path


def _campaigns(raw: Any) -> tuple[CampaignMap, ...]:
    entries = v.table_list(raw, "campaigns", "[[campaigns]] with form_id and campaign_id")
    if not entries:
        raise ConfigError("at least one [[campaigns]] entry (form_id, campaign_id) is required",
                          key="campaigns")
    campaigns = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"campaigns[{i}]"
        v.check_keys(entry, _SECTIONS["campaigns"], where)
        if "campaign_id" not in entry or not {"form_id", "event_id", "meetings"} & set(entry):
            missing = "campaign_id" if {"form_id", "event_id", "meetings"} & set(entry) else "form_id"
            raise ConfigError("is required", key=f"{where}.{missing}")
        source = entry_source(entry, where)
        campaign_id = v.text(entry["campaign_id"], f"{where}.campaign_id")
        if source.stream in seen:
            what, key = {"form": (f"form {source.stream}", "form_id"),
                         "event": (f"event {source.event_id}", "event_id"),
                         "meetings": ("meetings", "meetings")}[source.kind]
            raise ConfigError(f"{what} is mapped twice", key=f"{where}.{key}")
        seen.add(source.stream)
        status = v.text(entry.get("member_status", "Responded"), f"{where}.member_status")
        if len(status) > 40:
            raise ConfigError("must be 1 to 40 characters (a CampaignMember Status)",
                              key=f"{where}.member_status")
        if source.statuses is not None:
            status = source.statuses.registered   # what a campaign check and reports show
        campaigns.append(CampaignMap(source.stream, campaign_id, status, source.kind,
                                     source.event_id, source.statuses))
    return tuple(campaigns)


def _sync(raw: Mapping[str, Any], base: Path | None) -> SyncSettings:
    mapping = v.path_text(raw.get("mapping", SyncSettings.mapping), "sync.mapping")
    return SyncSettings(
        lookback_seconds=v.duration(raw.get("lookback", 600), "sync.lookback"),
        batch_size=v.integer(raw.get("batch_size", SyncSettings.batch_size), "sync.batch_size", 1,
                             MAX_BATCH_SIZE),
        on_multiple_matches=v.choice(raw.get("on_multiple_matches", "oldest"),
                                     "sync.on_multiple_matches", ("oldest", "newest")),
        unique_prefers=v.choice(raw.get("unique_prefers", "contact"), "sync.unique_prefers",
                                ("contact", "lead")),
        mapping=mapping,
        poi_delivery=v.choice(raw.get("poi_delivery", EXACTLY_ONCE), "sync.poi_delivery",
                              POI_DELIVERY),
        start=v.start_point(raw.get("start", DEFAULT_START), "sync.start"),
        probe=v.boolean(raw.get("probe", True), "sync.probe"),
        full_sweep_seconds=v.duration(raw.get("full_sweep_every", 3600), "sync.full_sweep_every"),
    )


def _salesforce(sf: dict[str, Any], require_secrets: bool = True,
                base: Path | None = None) -> SalesforceSettings:
    url = sf.get("instance_url")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+/?$", url):
        raise ConfigError("must be the org's base URL, e.g. https://acme.my.salesforce.com",
                          key="salesforce.instance_url")
    secret = {k: Secret(v.text(sf[k], f"salesforce.{k}")) for k in _SECRET_KEYS if sf.get(k)}
    username = v.optional_text(sf.get("username"), "salesforce.username")
    consumer_key = v.optional_text(sf.get("consumer_key"), "salesforce.consumer_key")
    mode = login.salesforce_mode(sf, require_secrets=require_secrets)
    login.check_salesforce(mode, sf, require_secrets=require_secrets)
    key_file = login.private_key_path(sf.get("private_key_file"), base,
                                      require_secrets=require_secrets and mode == "jwt")
    ext = sf.get("lead_external_id_field")
    if ext is not None and (not isinstance(ext, str) or not CUSTOM_FIELD.fullmatch(ext)):
        raise ConfigError("must be the API name of a custom field, ending in __c",
                          key="salesforce.lead_external_id_field")
    share = sf.get("budget_share", 0.8)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ConfigError("must be a share between 0 and 1, e.g. 0.8",
                          key="salesforce.budget_share")
    version = sf.get("api_version", "59.0")
    if isinstance(version, float):
        version = f"{version:.1f}"       # api_version = 59.0 written as a TOML number
    if not isinstance(version, str) or not re.fullmatch(r"\d{2}\.0", version):
        raise ConfigError("must look like 59.0", key="salesforce.api_version")
    duplicates = v.choice(sf.get("duplicate_rules", "respect"), "salesforce.duplicate_rules",
                          ("respect", "allow"))
    return SalesforceSettings(
        instance_url=url.rstrip("/"), access_token=secret.get("access_token"),
        username=username, password=secret.get("password"),
        security_token=secret.get("security_token"), consumer_key=consumer_key,
        consumer_secret=secret.get("consumer_secret"), api_version=version,
        auto_assign=v.boolean(sf.get("auto_assign", False), "salesforce.auto_assign"),
        lead_external_id_field=ext, budget_share=float(share), duplicate_rules=duplicates,
        auth=mode if "auth" in sf else None, private_key_file=key_file,
        login_url=login.login_url(sf.get("login_url")), refresh_token=secret.get("refresh_token"))


def _hubspot(hs: dict[str, Any], require_secrets: bool = True) -> HubSpotSettings:
    url = hs.get("base_url", "https://api.hubapi.com")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+/?$", url):
        raise ConfigError("must be a base URL such as https://api.hubapi.com", key="hubspot.base_url")
    mode = login.hubspot_mode(hs)
    login.check_hubspot(mode, hs, require_secrets=require_secrets)
    secret = {k: Secret(v.text(hs[k], f"hubspot.{k}"))
              for k in ("access_token", "client_secret", "refresh_token") if hs.get(k)}
    return HubSpotSettings(url.rstrip("/"), secret.get("access_token"),
                           v.integer(hs.get("page_size", 50), "hubspot.page_size", 1, 50),
                           auth=mode, client_id=v.optional_text(hs.get("client_id"), "hubspot.client_id"),
                           client_secret=secret.get("client_secret"),
                           refresh_token=secret.get("refresh_token"))
