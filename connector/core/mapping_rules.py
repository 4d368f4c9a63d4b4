"""The mapping's rules that need no org: which Salesforce fields a form answer may never write.

Pure. ``leadsync mappings check`` holds a mapping against the org's describe
(``connector.core.mapping_check``); these rules hold without it, so every command that loads
the mapping applies them at start (``connector.config.mapping_file.load_configured_mapping``)
and ``sync`` cannot run what ``mappings check`` rejects. A describe cannot tell them: the org
says ``OwnerId``, ``Status`` and the external-id field are writable, and they are, by the
integration user; what it cannot say is that a form's answer must not be what writes them.

The protected fields, as an experienced admin expects them:

- **record identity and audit** (``Id``, ``CreatedById``, ``CreatedDate``, ``LastModified*``,
  ``SystemModstamp``, ``IsDeleted``, ``MasterRecordId``, activity and view dates): Salesforce
  keeps them; with "Set Audit Fields upon Record Creation" on, the describe even calls the
  created-by fields createable, and a form would forge them;
- **conversion** (``IsConverted``, ``Converted*``): only lead conversion sets them;
- **ownership** (``OwnerId`` on Lead and Contact, ``AccountId`` on Contact): ``[routing]``,
  assignment rules and ``[accounts]`` decide them; an answer (a hidden field anyone can post)
  would hand a Lead to whoever the visitor names;
- **Lead Status**: the reps' working stage, and ``[routing.stages]``'s when configured. A form
  fill on ``overwrite`` reset a rep's "Working - Contacted"; a new Lead's first status is a
  constant (``[defaults] Status``) or a stage, never a visitor's answer;
- **leadsync's own keys**: the configured ``lead_external_id_field`` and the Task key's name
  (the same field, else ``Leadsync_Response_Id__c``) carry the response's conversion id and
  make writes exactly once; an answer in them would make a replay miss its own record.

``[defaults]`` are the admin's constants, not answers: ``Status`` and ``OwnerId`` there are
allowed (as in Web-to-Lead), the identity, audit, conversion and key fields are not. A target
with ``rule = "never"`` writes nothing and is not held.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from connector.core.enrich.tasks import TASK_KEY_FIELD as TASK_KEY_DEFAULT
from connector.core.normalise import SOBJECTS, FieldMapping, FieldSpec

Level = Literal["error", "warning"]


_SYSTEM = ("Id", "IsDeleted", "MasterRecordId", "CreatedById", "CreatedDate", "LastModifiedById",
           "LastModifiedDate", "SystemModstamp", "LastActivityDate", "LastViewedDate",
           "LastReferencedDate")
_CONVERSION = ("IsConverted", "ConvertedDate", "ConvertedAccountId", "ConvertedContactId",
               "ConvertedOpportunityId")


@dataclass(frozen=True)
class Problem:
    line: int
    where: str          # e.g. "fields.country.lead -> Lead.Country"
    message: str
    level: Level = "error"

    def __str__(self) -> str:
        at = f"line {self.line}: " if self.line else ""
        return f"{at}{self.where}: {self.message}" + (" (warning)" if self.level == "warning" else "")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Protected:
    """What the configuration says about the fields leadsync itself owns."""

    key_fields: tuple[str, ...] = (TASK_KEY_DEFAULT,)   # the exactly-once keys' names
    stages: bool = False                                # [routing.stages] sets Lead Status

    @classmethod
    def of(cls, external_id_field: str | None, *, stages: bool) -> "Protected":
        keys = tuple(dict.fromkeys(k for k in (external_id_field, TASK_KEY_DEFAULT) if k))
        return cls(keys, stages)

    def why(self, sobject: str, field: str, *, default: bool = False) -> str | None:
        """Why a form answer (or, with ``default``, a ``[defaults]`` constant) may not write
        ``sobject.field``; None when it may."""
        name = field.casefold()
        if name in {k.casefold() for k in self.key_fields}:
            return (f"{field} is leadsync's exactly-once key (it carries the response's id, "
                    "written by leadsync alone); map the answer to another field")
        if name in {f.casefold() for f in _SYSTEM}:
            return f"{sobject}.{field} is kept by Salesforce (identity and audit), never by a form"
        if sobject == "Lead" and name in {f.casefold() for f in _CONVERSION}:
            return f"Lead.{field} is set by lead conversion only"
        if default:
            return None
        if name == "ownerid":
            return ("the owner is decided by [routing] (or the org's assignment rules), never by "
                    "a form answer: a visitor could hand the record to anyone; remove it or set "
                    'rule = "never"')
        if sobject == "Contact" and name == "accountid":
            return ("a Contact's Account is decided by [accounts], never by a form answer; remove "
                    'it or set rule = "never"')
        if sobject == "Lead" and name == "status":
            owner = "[routing.stages] sets it" if self.stages else "it is the reps' working stage"
            return (f"Lead Status is not a form's to write: {owner}; give a new Lead its first "
                    'status with [defaults] Status = "..." or [routing.stages]')
        return None


def check_static(mapping: FieldMapping, protected: Protected) -> list[Problem]:
    """Every problem of a mapping that holds in any org, sorted by line."""
    problems: list[Problem] = []
    for sobject in SOBJECTS:
        targets = mapping.targets(sobject)
        for spec, sf_field in targets:
            why = protected.why(sobject, sf_field) if spec.rule != "never" else None
            if why:
                problems.append(Problem(spec.line, _where(spec, sobject, sf_field), why))
        problems.extend(duplicates(targets, sobject))
    for name in mapping.defaults:
        why = protected.why("Lead", name, default=True)
        if why:
            problems.append(Problem(mapping.default_lines.get(name, 0),
                                    f"defaults.{name} -> Lead.{name}", why))
    return sorted(problems, key=lambda p: (p.line, p.level != "error", p.where))


def duplicates(targets: list[tuple[FieldSpec, str]], sobject: str) -> list[Problem]:
    """Two form fields on one Salesforce field: a warning, the later answer wins."""
    seen: dict[str, FieldSpec] = {}
    out = []
    for spec, sf_field in targets:
        if spec.rule == "never":
            continue
        first = seen.setdefault(sf_field.lower(), spec)
        if first is not spec:
            out.append(Problem(spec.line, _where(spec, sobject, sf_field),
                               f"also mapped from fields.{first.form_field} (line {first.line}); "
                               "the later answer wins", "warning"))
    return out


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.level == "error"]


def _where(spec: FieldSpec, sobject: str, sf_field: str) -> str:
    return f"fields.{spec.form_field}.{sobject.lower()} -> {sobject}.{sf_field}"
