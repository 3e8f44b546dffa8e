"""Generate a large, valid ledger directly in the database, fast.

Creating a million entries through the service layer would take hours, so
this writes what the services would have written, in bulk:

* entries built exactly as tonne.ledger.services.append_entry builds them
  (same body keys, canonical JSON from tonne.core.canonical, prev-hash chain,
  leaf = SHA-256(0x00 || body)), continuing the chain already in the
  database (system accounts and the small registry made through the
  services), streamed into ledger_ledgerentry with COPY;
* organisations, holding accounts, projects, monitoring reports and
  issuances as rows (bulk_create), each with the ledger entry the service
  would append (organisation.applied, account.opened, project.registered,
  project.status, units.issued);
* a few thousand issuances interleaved with transfers, retirements and
  cancellations that move sub-ranges of blocks (so blocks split), in the
  shape tonne.units.services._complete records them;
* a signed checkpoint in the middle (root from MerkleAccumulator, signed as
  make_checkpoint signs) and one at the end through make_checkpoint itself;
* the ledger head, the serial counter, and the unit blocks, computed by
  replaying the generated entries with tonne.ledger.replay.Holdings and
  inserted with COPY, so the live tables agree with the ledger.

Not generated (verify does not read them; said in the output): rows of
units_transaction / units_transactionblock for the generated moves, report
vintages, and the MRV entries (mrv.report_submitted / verified).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import random
import time
import uuid
from dataclasses import dataclass, field

NOT_GENERATED = (
    "units_transactionblock rows for generated moves, report vintages and MRV ledger entries are not "
    "generated (tonne ledger verify does not read them; the moves' transaction rows are, since verify "
    "compares them with the ledger)"
)

ENTRY_COLUMNS = "seq, kind, transaction_ref, body, prev_hash, leaf_hash, created_at"


@dataclass
class Plan:
    entries: int  # total ledger size to reach
    organisations: int = 60
    accounts: int = 400
    projects: int = 300
    issuances: int = 3000
    seed: int = 20240601

    @classmethod
    def for_size(cls, entries: int) -> Plan:
        if entries >= 500_000:
            return cls(entries=entries)
        scale = max(entries / 1_000_000, 0.02)
        return cls(
            entries=entries,
            organisations=max(8, int(60 * scale * 4)),
            accounts=max(20, int(400 * scale * 4)),
            projects=max(10, int(300 * scale * 4)),
            issuances=max(60, int(3000 * scale * 4)),
        )


@dataclass
class GenStats:
    entries: int = 0
    generated: int = 0
    issuances: int = 0
    moves: int = 0
    blocks: int = 0
    checkpoints: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def generate(plan: Plan, log=print) -> GenStats:  # noqa: ANN001, C901
    from bulk import bulk_load
    from django.conf import settings
    from django.db import connection, transaction

    from tonne import testing
    from tonne.core.canonical import canonical_json
    from tonne.ledger import keys, openings
    from tonne.ledger.checkpoint import Checkpoint as CheckpointNote
    from tonne.ledger.checkpoint import sign_checkpoint
    from tonne.ledger.commitments import ACCOUNT, USER
    from tonne.ledger.merkle import MerkleAccumulator
    from tonne.ledger.models import Checkpoint, LedgerEntry, LedgerHead
    from tonne.ledger.replay import Holdings
    from tonne.ledger.services import ENTRY_VERSION, leaf_hashes, make_checkpoint
    from tonne.mrv.models import MonitoringReport
    from tonne.organisations import domain as org_domain
    from tonne.organisations.models import Account, Organisation
    from tonne.projects.domain import buffer_quantity
    from tonne.projects.models import Project
    from tonne.units.models import Issuance, SerialCounter, UnitBlock

    rng = random.Random(plan.seed)
    stats = GenStats()
    t_start = time.perf_counter()

    # -- a small registry through the services (users, VVB, system accounts) --------
    reg = testing.build_registry("gen")
    stats.seconds["service_prefix"] = time.perf_counter() - t_start

    country = settings.TONNE_COUNTRY
    head = LedgerHead.objects.get(pk=1)
    seq, prev = head.size, head.last_hash
    acc = MerkleAccumulator()
    for leaf in leaf_hashes(seq):
        acc.append(leaf)
    holdings = Holdings()
    for entry in LedgerEntry.objects.order_by("seq").values_list("body", flat=True):
        import json

        holdings.apply(json.loads(entry))

    span = dt.timedelta(days=365)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = now - span - dt.timedelta(days=1)
    step_us = span.total_seconds() * 1e6 / max(plan.entries - seq, 1)

    def at_of(n: int) -> dt.datetime:
        return t0 + dt.timedelta(microseconds=int(n * step_us))

    # -- rows first: organisations, accounts, projects, reports ------------------------
    t = time.perf_counter()
    created = at_of(seq)
    orgs = [
        Organisation(
            uid=uuid.UUID(int=rng.getrandbits(128), version=4),
            name=f"Generated organisation {i:04d}",
            kind=Organisation.Kind.DEVELOPER if i % 2 == 0 else Organisation.Kind.TRADER,
            status=Organisation.Status.APPROVED,
            country=country,
            created_at=created,
            status_changed_at=created,
        )
        for i in range(plan.organisations)
    ]
    Organisation.objects.bulk_create(orgs)
    developers = [o for o in orgs if o.kind == Organisation.Kind.DEVELOPER]
    number = (Account.objects.order_by("-number").values_list("number", flat=True).first() or 1000000) + 1
    accounts = []
    for i in range(plan.accounts):
        org = orgs[i % len(orgs)]
        accounts.append(
            Account(
                identifier=org_domain.make_account_identifier(country, Account.Type.HOLDING, number),
                number=number,
                type=Account.Type.HOLDING,
                name=f"{org.name} account {i // len(orgs) + 1}",
                organisation=org,
                is_terminal=False,
                created_at=created,
            )
        )
        number += 1
    Account.objects.bulk_create(accounts)
    first_account = {}
    for a in accounts:
        first_account.setdefault(a.organisation_id, a)
    system = {a.type: a for a in Account.objects.exclude(type=Account.Type.HOLDING)}
    account_ids = {a.identifier: a.pk for a in Account.objects.all()}

    pnumber = (Project.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    projects = []
    for i in range(plan.projects):
        dev = developers[i % len(developers)]
        n = pnumber + i
        projects.append(
            Project(
                number=n,
                uid=uuid.UUID(int=rng.getrandbits(128), version=4),
                project_id=f"{country}-{n:04d}",
                developer=dev,
                vvb=reg.vvb_org,
                status=Project.Status.REGISTERED,
                status_changed_at=created,
                registry_name=settings.TONNE_REGISTRY_NAME,
                name=f"Generated project {n}: {rng.choice(['cookstoves', 'mangroves', 'solar', 'landfill gas', 'REDD+'])}",
                description="Generated for the ledger verification benchmark.",
                sectors=["Energy demand"],
                types=["Cookstoves"],
                host_party=country,
                sectoral_scope=rng.randint(1, 15),
                unit_class="VER",
                buffer_basis_points=rng.choice([0, 0, 0, 1000, 2000]),
                created_at=created,
                updated_at=created,
            )
        )
    Project.objects.bulk_create(projects)
    reports = []
    per_project = {}
    for i in range(plan.issuances):
        project = projects[i % len(projects)]
        k = per_project[project.pk] = per_project.get(project.pk, 0) + 1
        reports.append(
            MonitoringReport(
                uid=uuid.UUID(int=rng.getrandbits(128), version=4),
                project=project,
                number=k,
                period_start=dt.date(2000 + k % 25, 1, 1),
                period_end=dt.date(2000 + k % 25, 12, 31),
                status=MonitoringReport.Status.ISSUED,
                vvb=reg.vvb_org,
                submitted_by=reg.developer,
                submitted_at=created,
                verified_by=reg.vvb,
                verified_at=created,
                decided_by=reg.admin,
                decided_at=created,
            )
        )
    MonitoringReport.objects.bulk_create(reports)
    stats.seconds["rows"] = time.perf_counter() - t

    # -- the entries, streamed through COPY ----------------------------------------------
    counter = SerialCounter.objects.get(pk=1)
    next_serial = counter.next_serial
    issuance_rows: list[Issuance] = []
    mid = seq + (plan.entries - seq) // 2
    mid_checkpoint = None
    key = keys.private_key()
    by_account: dict[str, list[list[int]]] = {a.identifier: [] for a in accounts}
    nonempty: list[str] = []
    acquired: dict[int, int] = {}  # block start -> seq at which it reached its account
    holding_ids = [a.identifier for a in accounts]
    actor_of = {a.identifier: f"user:gen-{a.organisation_id}" for a in accounts}
    org_of = {a.identifier: a.organisation_id for a in accounts}
    tx_counter = 0
    # Each move's transaction row, as the services write it: verify replays
    # what the ledger states of every transaction against these rows.
    moved_rows: list[tuple] = []
    opening_rows: list[tuple] = []
    id_of_name = {openings.ledger_name(ACCOUNT, identifier): pk for identifier, pk in account_ids.items()}
    sha256 = hashlib.sha256
    t = time.perf_counter()

    with transaction.atomic(), bulk_load(LedgerEntry._meta.db_table, UnitBlock._meta.db_table), connection.cursor() as cursor:
        raw_cursor = cursor.cursor
        with raw_cursor.copy(f"COPY ledger_ledgerentry ({ENTRY_COLUMNS}) FROM STDIN") as copy:

            def emit(kind: str, actor: str, data: dict, txref: str = "") -> None:
                nonlocal seq, prev, mid_checkpoint
                at = at_of(seq)
                # As the ledger's append publishes it: private fields committed to.
                data, private = openings.conceal(kind, data)
                opening_rows.extend(private)
                if actor.startswith("user:"):
                    actor = openings.ledger_name(USER, actor[5:])
                body = {
                    "v": ENTRY_VERSION,
                    "seq": seq,
                    "kind": kind,
                    "at": at,
                    "actor": actor,
                    "transaction": txref,
                    "prev": prev,
                    "data": data,
                }
                raw = canonical_json(body)
                leaf = sha256(b"\x00" + raw).digest()
                leaf_hex = leaf.hex()
                copy.write_row((seq, kind, txref, raw.decode("utf-8"), prev, leaf_hex, at))
                holdings.apply(body)  # the generator must produce a replayable ledger
                acc.append(leaf)
                prev = leaf_hex
                seq += 1
                if seq == mid:
                    root = acc.root()
                    note = CheckpointNote(origin=settings.TONNE_LEDGER_ORIGIN, size=seq, root=root)
                    text = sign_checkpoint(note, settings.TONNE_LEDGER_KEY_NAME, key)
                    mid_checkpoint = Checkpoint(
                        size=seq, root_hash=root.hex(), note=text, key_name=settings.TONNE_LEDGER_KEY_NAME, created_at=at
                    )
                    if hasattr(mid_checkpoint, "compact_range") and hasattr(acc, "state"):
                        # as make_checkpoint stores it: the next checkpoint resumes from here
                        mid_checkpoint.compact_range = ",".join(h.hex() for h in acc.state())

            def new_tx(at_seq: int) -> str:
                nonlocal tx_counter
                tx_counter += 1
                day = at_of(at_seq)
                return f"TX-{day:%Y%m%d}-{tx_counter:010X}"

            for org in orgs:
                emit(
                    "organisation.applied",
                    "system",
                    {"organisation": str(org.uid), "name": org.name, "kind": org.kind, "status": "applied"},
                )
                emit(
                    "organisation.status",
                    f"user:{reg.admin.username}",
                    {"organisation": str(org.uid), "name": org.name, "kind": org.kind, "status": "approved",
                     "reason": "KYC complete"},
                )
            for a in accounts:
                emit(
                    "account.opened",
                    f"user:{reg.admin.username}",
                    {"account": a.identifier, "type": a.type, "name": a.name, "organisation": str(orgs_by_id(orgs)[a.organisation_id].uid)},
                )
            for p in projects:
                snap = {
                    "project": p.project_id, "uid": str(p.uid), "name": p.name, "status": "draft",
                    "developer": str(p.developer.uid), "host_party": p.host_party,
                    "sectoral_scope": p.sectoral_scope, "buffer_basis_points": p.buffer_basis_points,
                    "unit_class": p.unit_class,
                }
                emit("project.registered", f"user:gen-{p.developer_id}", snap)
                emit("project.status", f"user:{reg.admin.username}", {**snap, "status": "registered", "from": "draft", "reason": ""})

            remaining_issuances = list(range(plan.issuances))
            issuance_number: dict[int, int] = {}

            def issue(i: int) -> None:
                nonlocal next_serial
                report = reports[i]
                project = report.project
                quantity = rng.randint(20_000, 600_000)
                buffer = buffer_quantity(quantity, project.buffer_basis_points)
                net = quantity - buffer
                start = next_serial
                next_serial += quantity
                nr = issuance_number[project.pk] = issuance_number.get(project.pk, 0) + 1
                vintage = 2000 + report.number % 25
                at = at_of(seq)
                iss = Issuance(
                    uid=uuid.UUID(int=rng.getrandbits(128), version=4), project=project, report=report, number=nr,
                    vintage=vintage, unit_class=project.unit_class, quantity=quantity, buffer_quantity=buffer,
                    serial_start=start, serial_end=start + quantity - 1, approved_by=reg.admin, issued_at=at,
                )
                issuance_rows.append(iss)
                holder = first_account[project.developer_id]
                blocks = []
                if net:
                    blocks.append({"start": start, "end": start + net - 1, "account": holder.identifier,
                                   "transaction": new_tx(seq), "kind": "issuance"})
                if buffer:
                    blocks.append({"start": start + net, "end": start + quantity - 1,
                                   "account": system["buffer"].identifier, "transaction": new_tx(seq),
                                   "kind": "buffer_contribution"})
                emit(
                    "units.issued",
                    f"user:{reg.admin.username}",
                    {
                        "op": "issue",
                        "issuance": {
                            "uid": str(iss.uid), "project": project.project_id, "project_number": project.number,
                            "host": project.host_party, "scope": project.sectoral_scope, "number": nr,
                            "vintage": vintage, "unit_class": iss.unit_class, "quantity": quantity,
                            "buffer": buffer, "report": str(report.uid),
                        },
                        "blocks": blocks,
                    },
                    blocks[0]["transaction"],
                )
                if net:
                    lst = by_account[holder.identifier]
                    if not lst:
                        nonempty.append(holder.identifier)
                    lst.append([start, start + net - 1])
                    acquired[start] = seq - 1
                if buffer:
                    acquired[start + net] = seq - 1
                stats.issuances += 1

            def take(src: str) -> list[int] | None:
                """Cut one piece out of a random block of `src`; push back the rest."""
                lst = by_account[src]
                if not lst:
                    return None
                i = rng.randrange(len(lst))
                s, e = lst[i]
                lst[i] = lst[-1]
                lst.pop()
                size = e - s + 1
                r = rng.random()
                if r < 0.25 or size == 1:
                    return [s, e]
                q = min(size, rng.randint(1, 2000))
                if q == size:
                    return [s, e]
                if r < 0.70:  # the oldest-first way: from the start of the block
                    lst.append([s + q, e])
                    acquired[s + q] = acquired[s]
                    return [s, s + q - 1]
                off = rng.randint(0, size - q)
                ps, pe = s + off, s + off + q - 1
                if ps > s:
                    lst.append([s, ps - 1])
                if pe < e:
                    lst.append([pe + 1, e])
                    acquired[pe + 1] = acquired[s]
                return [ps, pe]

            def move() -> bool:
                while nonempty:
                    j = rng.randrange(len(nonempty))
                    src = nonempty[j]
                    if by_account[src]:
                        break
                    nonempty[j] = nonempty[-1]
                    nonempty.pop()
                else:
                    return False
                n = 1 if rng.random() < 0.85 else rng.randint(2, 3)
                pieces = []
                for _ in range(n):
                    piece = take(src)
                    if piece is None:
                        break
                    pieces.append(piece)
                r = rng.random()
                data: dict
                if r < 0.80:
                    kind = "transfer"
                    dst = src
                    while dst == src:
                        dst = holding_ids[rng.randrange(len(holding_ids))]
                elif r < 0.95:
                    kind, dst = "retirement", system["retirement"].identifier
                else:
                    kind, dst = "cancellation", system["cancellation"].identifier
                pieces.sort()
                data = {
                    "op": "move",
                    "kind": kind,
                    "from": src,
                    "to": dst,
                    "quantity": sum(e - s + 1 for s, e in pieces),
                    "ranges": pieces,
                }
                if kind == "retirement":
                    data["beneficiary"] = f"Beneficiary {rng.randint(1, 5000)}"
                    data["purpose"] = rng.choice(["voluntary", "ndc", "corsia"])
                    if rng.random() < 0.5:
                        data["jurisdiction"] = "CI"
                elif kind == "cancellation":
                    data["reason"] = "Voluntary cancellation"
                for s, _ in pieces:
                    acquired[s] = seq
                txid, at = new_tx(seq), at_of(seq)
                moved_rows.append((
                    txid, kind, "completed", reg.admin.pk, org_of[src], "", "", account_ids[src], account_ids[dst],
                    data["quantity"], data.get("reason", ""), data.get("beneficiary", ""), data.get("purpose", ""),
                    data.get("jurisdiction", ""), data.get("compliance_period", ""), data.get("using_entity", ""),
                    data.get("on_behalf_of", ""), at, at, "", seq,
                ))
                emit(f"units.{kind}", actor_of[src], data, txid)
                if kind == "transfer":
                    lst = by_account[dst]
                    if not lst:
                        nonempty.append(dst)
                    lst.extend([p[0], p[1]] for p in pieces)
                stats.moves += 1
                return True

            total_moves = plan.entries - seq - len(remaining_issuances)
            # issuances spread over the first 80 % of the history
            issue_every = max(1, int(total_moves * 0.8 / max(len(remaining_issuances), 1)))
            for _ in range(min(10, len(remaining_issuances))):
                issue(remaining_issuances.pop(0))
            k = 0
            last_log = time.perf_counter()
            while seq < plan.entries:
                k += 1
                if remaining_issuances and (k % issue_every == 0 or plan.entries - seq <= len(remaining_issuances)):
                    issue(remaining_issuances.pop(0))
                elif not move():
                    issue(remaining_issuances.pop(0))
                if time.perf_counter() - last_log > 15:
                    last_log = time.perf_counter()
                    log(f"    generated {seq:,} / {plan.entries:,} entries")
        stats.seconds["entries"] = time.perf_counter() - t

        # -- rows that follow from the entries ----------------------------------------------
        t = time.perf_counter()
        with raw_cursor.copy(
            "COPY units_transaction (identifier, kind, status, initiated_by_id, organisation_id, idempotency_key, "
            "request_hash, from_account_id, to_account_id, quantity, reason, beneficiary, purpose, jurisdiction, "
            "compliance_period, using_entity, on_behalf_of, created_at, completed_at, failure_code, ledger_seq) FROM STDIN"
        ) as copy:
            for row in moved_rows:
                copy.write_row(row)
        with raw_cursor.copy("COPY ledger_opening (commitment, path, value, salt) FROM STDIN") as copy:
            for committed, value, salt, path in opening_rows:
                copy.write_row((committed, path, canonical_json(value).decode("utf-8"), salt.hex()))
        if mid_checkpoint is not None:
            mid_checkpoint.save()
            stats.checkpoints.append(mid_checkpoint.size)
        LedgerHead.objects.filter(pk=1).update(size=seq, last_hash=prev)
        SerialCounter.objects.filter(pk=1).update(next_serial=next_serial)
        Issuance.objects.bulk_create(issuance_rows, batch_size=2000)
        live_issuances = sorted(Issuance.objects.values_list("serial_start", "serial_end", "id", "project_id"))
        starts = [row[0] for row in live_issuances]
        # Blocks that existed before (made through the services) stay; only
        # the generated issuances' blocks are written.
        generated_from = issuance_rows[0].serial_start if issuance_rows else None
        n_blocks = 0
        with raw_cursor.copy(
            "COPY units_unitblock (issuance_id, project_id, vintage, unit_class, serial_start, serial_end, "
            "account_id, acquired_at) FROM STDIN"
        ) as copy:
            for start, end, account, _project, vintage, unit_class in holdings.blocks():
                if generated_from is None or start < generated_from:
                    continue
                row = live_issuances[bisect.bisect_right(starts, start) - 1]
                copy.write_row(
                    (row[2], row[3], vintage, unit_class, start, end, id_of_name[account], at_of(acquired.get(start, 0)))
                )
                n_blocks += 1
        stats.seconds["blocks"] = time.perf_counter() - t
        stats.blocks = UnitBlock.objects.count()

    # -- the final checkpoint, through the service --------------------------------------
    t = time.perf_counter()
    checkpoint = make_checkpoint()
    if checkpoint is not None:
        stats.checkpoints.append(checkpoint.size)
    stats.seconds["final_checkpoint"] = time.perf_counter() - t
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    stats.entries = seq
    stats.generated = seq - head.size
    stats.seconds["total"] = time.perf_counter() - t_start
    return stats


_orgs_by_id_cache: dict[int, dict] = {}


def orgs_by_id(orgs: list) -> dict:  # noqa: ANN001
    key = id(orgs)
    if key not in _orgs_by_id_cache:
        _orgs_by_id_cache[key] = {o.pk: o for o in orgs}
    return _orgs_by_id_cache[key]
