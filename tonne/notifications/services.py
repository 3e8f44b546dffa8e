"""Turning the registry's changes into notifications, and a person's own
reading of them.

`deliver` reads the ledger from its cursor (every completed change wrote one
entry) and the four-eyes requests, and writes one notification per person
concerned, in one transaction that also moves the cursor: a crash before
commit leaves the cursor where it was and the next pass makes the same rows,
and the (recipient, source) key refuses a row made twice. `send_mail_due`
then mails what is pending to those who want e-mail. Marking read and the
preferences are a person's own reading, not the registry's record: they
write no ledger entry (the change they tell of already has one)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import translation

from tonne.article6.models import AuthorisationVersion, FirstTransfer
from tonne.controls.models import Approval
from tonne.controls.services import REGISTRY_ACTIONS
from tonne.core import clock
from tonne.core.errors import NotFound, ValidationFailed
from tonne.ledger import commitments, openings
from tonne.ledger import selectors as ledger
from tonne.mrv.models import MonitoringReport
from tonne.notifications import domain, links, messages
from tonne.notifications.models import Cursor, Notification, Preference
from tonne.organisations import notices
from tonne.organisations.models import Account, Organisation, User
from tonne.projects.models import Project
from tonne.units.models import Transaction

log = logging.getLogger("tonne.notifications")
LEDGER = "ledger"
BATCH = 500
REPRESENTATIVES = notices.REPRESENTATIVE_ROLES
APPROVERS = (User.Role.ADMIN, User.Role.APPROVER)
RECENT_DECISIONS_DAYS = 7  # decided requests looked at again (the key makes it once)


def start_cursor() -> None:
    """From install on, notifications start at the ledger's present end (a
    registry's past is not news). Run after every migrate."""
    Cursor.objects.get_or_create(name=LEDGER, defaults={"position": ledger.head().size})


def _people(organisations: Iterable[int], roles: tuple[str, ...]) -> set[int]:
    ids = [o for o in organisations if o is not None]
    if not ids:
        return set()
    return set(User.objects.filter(organisation_id__in=ids, is_active=True, role__in=roles).values_list("pk", flat=True))


def _administrators(roles: tuple[str, ...] = REPRESENTATIVES) -> set[int]:
    orgs = Organisation.objects.filter(kind=Organisation.Kind.GOVERNMENT, status=Organisation.Status.APPROVED)
    return _people(orgs.values_list("pk", flat=True), roles)


def _organisations(kind: str, ref: str) -> list[int]:
    """The organisations one audience reference names."""
    if kind == domain.DEVELOPER_OF:
        return list(Project.objects.filter(project_id=ref).values_list("developer_id", flat=True))
    if kind == domain.PROJECT_VVB:
        return [v for v in Project.objects.filter(project_id=ref).values_list("vvb_id", flat=True) if v]
    if kind in (domain.REPORT_VVB, domain.REPORT_DEVELOPER):
        try:
            report_uid = uuid.UUID(ref)
        except ValueError:
            return []
        column = "vvb_id" if kind == domain.REPORT_VVB else "project__developer_id"
        return list(MonitoringReport.objects.filter(uid=report_uid).values_list(column, flat=True))
    if kind == domain.HOLDER_OF:
        return list(Account.objects.filter(identifier=ref, organisation__isnull=False).values_list("organisation_id", flat=True))
    if kind == domain.PARTIES_OF:
        row = Transaction.objects.filter(identifier=ref).values_list(
            "from_account__organisation_id", "to_account__organisation_id").first()
        return [o for o in row or () if o is not None]
    if kind == domain.MEMBERS_OF:
        try:
            return list(Organisation.objects.filter(uid=uuid.UUID(ref)).values_list("pk", flat=True))
        except ValueError:
            return []
    return []


def recipients(event: domain.Event, *, roles: tuple[str, ...] = REPRESENTATIVES) -> set[int]:
    """Who is concerned by `event`: the people of the organisations its
    audiences name, who may see the thing (their own project, report,
    account or transaction; everything, for the registry administrators)."""
    people: set[int] = set()
    for kind, ref in event.audiences:
        if kind == domain.ADMINISTRATORS:
            people |= _administrators(roles)
        else:
            people |= _people(_organisations(kind, ref), roles)
    return people


def _rows(event: domain.Event, people: Iterable[int], source: str, orgs: dict[int, int | None]) -> list[Notification]:
    now = clock.now()
    return [
        Notification(uid=uuid.uuid4(), recipient_id=pk, organisation_id=orgs.get(pk), event=event.code,
                     subject=event.subject, ref=event.ref[:64], params=event.params, source=source, created_at=now)
        for pk in sorted(people)
    ]


def _organisation_of(people: set[int]) -> dict[int, int | None]:
    return dict(User.objects.filter(pk__in=people).values_list("pk", "organisation_id"))


def _opened(entry_data: dict[str, Any], names: dict[str, str] | None) -> dict[str, Any]:
    if names is None:
        return entry_data
    opened = commitments.opened(entry_data, {}, names)
    return opened if isinstance(opened, dict) else entry_data


def _needs_names(kind: str) -> bool:
    # Accounts are named by pseudonym in these entries; moves are found by their transaction.
    return kind.startswith(("account.", "control."))


@transaction.atomic
def deliver_ledger(*, limit: int = BATCH) -> int:
    """One batch of ledger entries from the cursor; the number of notifications made."""
    start_cursor()
    cursor = Cursor.objects.select_for_update().get(name=LEDGER)
    entries = list(ledger.entries_from(cursor.position, limit))
    if not entries:
        return 0
    names = None
    if any(_needs_names(e.kind) for e in entries):
        names = {p: name for p, (_kind, name) in openings.reverse_names().items()}
    rows: list[Notification] = []
    firsts = _first_transfers([e.transaction_ref for e in entries if e.kind.startswith("units.") and e.transaction_ref])
    for entry in entries:
        doc = json.loads(entry.body)
        data = _opened(doc.get("data") or {}, names if _needs_names(entry.kind) else None)
        if entry.kind == "article6.revoked":
            data = {**_authorisation_reach(data.get("authorisation")), **data}
        events = domain.events_of(entry.kind, data, entry.transaction_ref)
        if entry.kind.startswith("units.") and entry.transaction_ref in firsts:
            events.append(domain.first_transfer(entry.transaction_ref, *firsts.pop(entry.transaction_ref)))
        for event in events:
            people = recipients(event)
            actor = doc.get("actor", "")
            people = {pk for pk, username in User.objects.filter(pk__in=people).values_list("pk", "username")
                      if openings.ledger_name(commitments.USER, username) != actor and f"user:{username}" != actor}
            rows += _rows(event, people, domain.source_key(LEDGER, str(entry.seq), event.code), _organisation_of(people))
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    cursor.position = entries[-1].seq + 1
    cursor.save(update_fields=["position"])
    return len(rows)


def _first_transfers(refs: list[str]) -> dict[str, tuple[int, list[str], list[str]]]:
    """The units each of these transactions first-transferred: quantity, authorisations, acquiring Parties."""
    found: dict[str, tuple[int, list[str], list[str]]] = {}
    rows = FirstTransfer.objects.filter(transaction_identifier__in=refs).values_list(
        "transaction_identifier", "serial_start", "serial_end", "authorisation__identifier", "acquiring_party")
    for ref, start, end, authorisation, party in rows:
        quantity, authorisations, parties = found.get(ref, (0, [], []))
        found[ref] = (quantity + end - start + 1, sorted({*authorisations, authorisation}), sorted({*parties, party}))
    return found


def _authorisation_reach(identifier: Any) -> dict[str, Any]:
    """The projects and authorised entities of an authorisation, as its latest version states them."""
    version = AuthorisationVersion.objects.filter(authorisation__identifier=str(identifier or "")).order_by("-version").first()
    return {"projects": version.projects, "entities": version.entities} if version is not None else {}


def _approval_events(approval: Approval) -> tuple[domain.Event, set[int]]:
    if approval.status == Approval.Status.PENDING:
        registry = approval.action in REGISTRY_ACTIONS or approval.organisation_id is None
        org_uid = None if registry or approval.organisation is None else str(approval.organisation.uid)
        event = domain.approval_requested(str(approval.uid), approval.action, org_uid)
        return event, recipients(event, roles=APPROVERS) - {approval.initiated_by_id}
    event = domain.approval_decided(str(approval.uid), approval.action, approval.status, approval.reason)
    return event, {approval.initiated_by_id}


@transaction.atomic
def deliver_approvals() -> int:
    """Requests awaiting a second person (to those who may approve them) and
    requests decided lately (to their initiator), each told once."""
    now = clock.now()
    recent = now - dt.timedelta(days=RECENT_DECISIONS_DAYS)
    candidates = Approval.objects.select_related("organisation").filter(
        Q(status=Approval.Status.PENDING, expires_at__gt=now)
        | Q(status__in=[Approval.Status.APPROVED, Approval.Status.REJECTED], decided_at__gte=recent)
    ).exclude(initiated_by__is_active=False)

    def key(a: Approval) -> str:
        code = "approval_requested" if a.status == Approval.Status.PENDING else "approval_decided"
        return domain.source_key("approval", str(a.uid), code)

    pending = {key(a): a for a in candidates}
    told = set(Notification.objects.filter(source__in=list(pending)).values_list("source", flat=True).distinct())
    rows: list[Notification] = []
    for source, approval in pending.items():
        if source in told:
            continue
        event, people = _approval_events(approval)
        rows += _rows(event, people, source, _organisation_of(people))
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def deliver(*, limit: int = BATCH, rounds: int = 20) -> int:
    """Everything new, as notifications (the worker's job): ledger batches
    until the cursor reaches the end (at most `rounds`, so a busy registry
    never holds the job in one round), then the four-eyes requests."""
    made = 0
    for _round in range(rounds):
        made += deliver_ledger(limit=limit)
        if not _more_entries():
            break
    return made + deliver_approvals()


def _more_entries() -> bool:
    cursor = Cursor.objects.filter(name=LEDGER).first()
    return cursor is not None and cursor.position < ledger.head().size


# -- e-mail --------------------------------------------------------------------------


def _wants_mail(user: User) -> tuple[bool, str]:
    pref = Preference.objects.filter(user=user).first()
    wants = (pref.email if pref else True) and bool(user.email) and user.is_active
    return wants, (pref.language if pref and pref.language else settings.LANGUAGE_CODE)


def mail_body(note: Notification) -> tuple[str, str]:
    """Subject and text of a notification's e-mail, in the current language."""
    sentence = messages.text(note.event, note.params)
    lines = [sentence]
    why = messages.reason(note.params)
    if why:
        lines.append(translation.gettext("Reason: %(reason)s") % {"reason": why})
    lines.append(settings.TONNE_PUBLIC_URL + links.link(note.subject, note.ref, note.event))
    return sentence, "\n\n".join(lines)


def send_mail_due(*, limit: int = 200) -> int:
    """Mail pending notifications (each at most once: marked before sending,
    so a crash loses a mail rather than sending it twice; the in-app list keeps it)."""
    sent = 0
    for note in Notification.objects.select_related("recipient").filter(mail=Notification.Mail.PENDING).order_by("id")[:limit]:
        wants, language = _wants_mail(note.recipient)
        claimed = Notification.objects.filter(pk=note.pk, mail=Notification.Mail.PENDING).update(
            mail=Notification.Mail.SENT if wants else Notification.Mail.OFF)
        if not claimed or not wants:
            continue
        with translation.override(language):
            subject, body = mail_body(note)
        if notices.mail([note.recipient.email], subject, body):
            sent += 1
        else:
            Notification.objects.filter(pk=note.pk).update(mail=Notification.Mail.FAILED)
            log.warning("could not mail notification %s", note.uid)
    return sent


# -- a person's own reading ------------------------------------------------------------


def mark_read(*, actor: User, uid: Any) -> Notification:
    try:
        note = Notification.objects.get(uid=uuid.UUID(str(uid)), recipient=actor)
    except (ValueError, Notification.DoesNotExist):
        raise NotFound("NOTIFICATION_NOT_FOUND", "No such notification.") from None
    if note.read_at is None:
        note.read_at = clock.now()
        note.save(update_fields=["read_at"])
    return note


def mark_all_read(*, actor: User) -> int:
    return Notification.objects.filter(recipient=actor, read_at=None).update(read_at=clock.now())


def set_preferences(*, actor: User, email: Any, language: Any = "") -> Preference:
    if not isinstance(email, bool):
        raise ValidationFailed("FIELD_INVALID", "email must be true or false.", field="email")
    language = language or ""
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationFailed("LANGUAGE_UNKNOWN", f"The registry speaks {', '.join(dict(settings.LANGUAGES))}.",
                               field="language", details={"allowed": list(dict(settings.LANGUAGES))})
    pref, _ = Preference.objects.update_or_create(user=actor, defaults={"email": email, "language": language})
    return pref


def preferences(user: User) -> Preference:
    return Preference.objects.filter(user=user).first() or Preference(user=user)
