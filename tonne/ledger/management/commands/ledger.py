"""tonne ledger verify | checkpoint | proof | opening | backfill | key | acknowledge-restore | witness"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.core.errors import RegistryError
from tonne.ledger import commitments, cosigning, keys, openings, proofs, witness
from tonne.ledger.backfill import backfill
from tonne.ledger.external import load
from tonne.ledger.models import LedgerEntry
from tonne.ledger.services import acknowledge_restore, check_against_mark, make_checkpoint
from tonne.ledger.verify import verify_ledger


class Command(BaseCommand):
    help = "Verify the ledger, sign checkpoints, make and check proofs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="recompute hashes, roots, signatures; replay and compare holdings")
        verify.add_argument("--key", help="verifier key (name+id+base64); default: this registry's own key")
        verify.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="FILE|URL",
            help="a signed checkpoint kept outside this database (repeatable): the ledger must extend it",
        )
        verify.add_argument("--json", action="store_true", help="print the result as JSON")
        verify.add_argument(
            "--python",
            action="store_true",
            help="use only the pure-Python reference path, even where the compiled one is built",
        )
        checkpoint = sub.add_parser("checkpoint", help="sign a checkpoint of the ledger as it stands")
        checkpoint.add_argument("--force", action="store_true", help="print the latest even if nothing changed")
        checkpoint.add_argument("--output", help="also write the signed note to this file")
        sub.add_parser("key", help="print the verifier key that checks this registry's checkpoints")
        ack = sub.add_parser(
            "acknowledge-restore", help="accept that the ledger was restored to an earlier point; moves resume"
        )
        ack.add_argument("--by", required=True, help="username of the administrator accepting the restore")
        wit = sub.add_parser("witness", help="witness other registries' logs (C2SP tlog-witness)")
        wit_sub = wit.add_subparsers(dest="witness_action", required=True)
        add = wit_sub.add_parser("add", help="start witnessing a log")
        add.add_argument("origin", help="the log's checkpoint origin line")
        add.add_argument("url", help="the registry's base URL")
        add.add_argument("verifier_key", help="the log's verifier key, obtained from it out of band")
        run = wit_sub.add_parser("run", help="fetch, check and cosign each log's latest checkpoint")
        run.add_argument("origin", nargs="?", help="only this log")
        wit_sub.add_parser("key", help="print this installation's witness (cosignature/v1) verifier key")
        trust = wit_sub.add_parser("trust", help="collect cosignatures of this registry's checkpoints from a witness")
        trust.add_argument("name")
        trust.add_argument("url", help="the witness installation's base URL")
        trust.add_argument("verifier_key", help="the witness's cosignature/v1 key")
        wit_sub.add_parser("collect", help="collect the cosignatures this registry's witnesses made")
        proof = sub.add_parser("proof", help="inclusion / consistency proofs")
        proof_sub = proof.add_subparsers(dest="proof_action", required=True)
        inclusion = proof_sub.add_parser("inclusion", help="prove that entry SEQ is in a signed checkpoint")
        inclusion.add_argument("seq", type=int)
        inclusion.add_argument("--size", type=int, help="checkpoint size (default: latest)")
        inclusion.add_argument("--output", "-o", help="write the proof file here (default: stdout)")
        consistency = proof_sub.add_parser("consistency", help="prove that checkpoint NEW extends checkpoint OLD")
        consistency.add_argument("old", type=int)
        consistency.add_argument("new", type=int, nargs="?")
        consistency.add_argument("--output", "-o")
        check = proof_sub.add_parser("verify", help="check a proof file offline against a verifier key")
        check.add_argument("file")
        check.add_argument("--key", help="verifier key text (obtain it independently of the proof)")
        check.add_argument("--key-file", help="file holding the verifier key")

        sub.add_parser("backfill", help="append entries for the rows (controls, decisions, AML alerts, owners, delays) the ledger never stated (older databases)")
        opening = sub.add_parser("opening", help="open an entry's private fields; check an opening offline")
        opening_sub = opening.add_subparsers(dest="opening_action", required=True)
        show = opening_sub.add_parser("show", help="the opening of entry SEQ (the operator's; handle with care)")
        show.add_argument("seq", type=int)
        show.add_argument("--output", "-o", help="write it here (default: stdout)")
        check_opening = opening_sub.add_parser("verify", help="check an opening against the public entry, offline")
        check_opening.add_argument("file")
        check_opening.add_argument("--entry", required=True,
                                   help="the entry: its JSON from /api/v1/ledger/entries/SEQ, or its body")

    def handle(self, *args: object, **options: object) -> None:
        action = options["action"]
        try:
            if action == "verify":
                self._verify(options)
            elif action == "checkpoint":
                self._checkpoint(options)
            elif action == "key":

                self.stdout.write(keys.verifier_key_text())
            elif action == "proof":
                self._proof(options)
            elif action == "acknowledge-restore":
                self._acknowledge(options)
            elif action == "witness":
                self._witness(options)
            elif action == "opening":
                self._opening(options)
            elif action == "backfill":
                counts = backfill()
                self.stdout.write(", ".join(f"{kind}: {n}" for kind, n in sorted(counts.items()))
                                  or "Nothing to backfill: the ledger states every row it holds verify to.")
        except RegistryError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None

    def _verify(self, options: dict) -> None:
        external = [load(source) for source in options.get("checkpoint") or []]
        result = verify_ledger(
            verifier_key=options.get("key"),
            compiled=False if options.get("python") else None,
            external=external,
        )
        if options.get("json"):
            self.stdout.write(
                json.dumps(
                    {
                        "ok": result.ok,
                        "entries": result.entries,
                        "checkpoints": result.checkpoints,
                        "blocks": result.blocks,
                        "seconds": round(result.seconds, 3),
                        "workers": result.workers,
                        "path": result.path,
                        "divergence": result.first.__dict__ if result.first else None,
                        "divergences": [d.__dict__ for d in result.divergences],
                        "external_checkpoints": result.external,
                        "held_against_size": result.held_size if result.external else None,
                    },
                    indent=2,
                )
            )
        elif result.ok:
            rate = result.entries / result.seconds if result.seconds else 0
            self.stdout.write(
                f"OK: {result.entries} entries, {result.checkpoints} signed checkpoints and "
                f"{result.blocks} unit blocks verified in {result.seconds:.2f} s ({rate:,.0f} entries/s)."
            )
            if result.external:
                self.stdout.write(
                    f"Held against {result.external} external checkpoint(s): the ledger extends "
                    f"each of them (largest tree size {result.held_size})."
                )
            else:
                self.stdout.write(
                    "Warning: not held against any external checkpoint, so a restored older copy of "
                    "the database or a history re-signed by the operator would also pass. "
                    "Give --checkpoint FILE|URL with checkpoints saved outside this registry."
                )
        else:
            for divergence in result.divergences:
                where = f" at entry {divergence.seq}" if divergence.seq is not None else ""
                self.stderr.write(f"LEDGER DIVERGENCE{where}: {divergence.code}: {divergence.message}")
        rolled_back = check_against_mark()
        if rolled_back:
            self.stderr.write(f"LEDGER ROLLED BACK: {rolled_back}.")
        if not result.ok or rolled_back:
            sys.exit(1)

    def _acknowledge(self, options: dict) -> None:
        admin = get_user_model().objects.filter(username=options["by"], is_active=True).first()
        # The user model belongs to an app above the ledger: its administrator test is read by name.
        organisation = getattr(admin, "organisation", None)
        if admin is None or not (admin.is_superuser or getattr(organisation, "is_registry_administrator", False)):
            raise CommandError(f"{options['by']} is not a registry administrator.")
        ack = acknowledge_restore(actor=admin)
        self.stdout.write(
            f"Restore acknowledged by {admin.username}: the ledger has {ack['ledger_size']} entries, "
            f"{ack['mark_size']} were signed. Unit moves resume; no checkpoint is signed until the ledger "
            f"passes {ack['mark_size']} entries."
        )

    def _witness(self, options: dict) -> None:
        sub = options["witness_action"]
        if sub == "key":
            self.stdout.write(witness.witness_verifier_key())
            return
        if sub == "add":
            log = witness.add_log(origin=options["origin"], verifier_key=options["verifier_key"], url=options["url"])
            self.stdout.write(f"witnessing {log.origin} at {log.url}")
            return
        if sub == "trust":
            trusted = cosigning.trust_witness(name=options["name"], verifier_key=options["verifier_key"],
                                              url=options["url"])
            self.stdout.write(f"collecting cosignatures from {trusted.name} at {trusted.url}")
            return
        if sub == "collect":
            failed = False
            for got in cosigning.collect_all():
                if got.code:
                    failed = failed or got.code != "NOT_WITNESSED"
                    self.stderr.write(f"{got.witness}: {got.code}: {got.message}")
                else:
                    self.stdout.write(f"{got.witness}: cosigned checkpoint {got.size}")
            if failed:
                sys.exit(1)
            return
        outcomes = [witness.witness(options["origin"])] if options.get("origin") else witness.witness_all()
        refused = False
        for outcome in outcomes:
            if outcome.cosigned:
                self.stdout.write(f"COSIGNED: {outcome.origin} at tree size {outcome.size}")
            else:
                refused = True
                self.stderr.write(f"REFUSED: {outcome.origin}: {outcome.code}: {outcome.message}")
        if refused:
            sys.exit(1)

    def _checkpoint(self, options: dict) -> None:
        checkpoint = make_checkpoint(force=bool(options.get("force")))
        if checkpoint is None:
            self.stdout.write("No new entries since the last checkpoint.")
            return
        if options.get("output"):
            Path(options["output"]).write_text(checkpoint.note)
        self.stdout.write(checkpoint.note, ending="")

    def _opening(self, options: dict) -> None:
        if options["opening_action"] == "show":
            entry = LedgerEntry.objects.filter(seq=options["seq"]).first()
            if entry is None:
                raise CommandError("LEDGER_ENTRY_NOT_FOUND: no ledger entry has that number.")
            text = json.dumps(openings.opening_of(entry), indent=2, ensure_ascii=False)
            if options.get("output"):
                Path(options["output"]).write_text(text + "\n")
                self.stdout.write(f"wrote {options['output']}")
            else:
                self.stdout.write(text)
            return
        try:
            opening = json.loads(Path(options["file"]).read_text())
            entry_text = Path(options["entry"]).read_text().strip()
        except OSError as exc:
            raise CommandError(f"OPENING_FILE_UNREADABLE: {exc.strerror}: {exc.filename}") from None
        except ValueError:
            raise CommandError("OPENING_MALFORMED: the opening file is not JSON.") from None
        try:
            entry_doc = json.loads(entry_text)
        except ValueError:
            raise CommandError("ENTRY_MALFORMED: the entry file is not JSON.") from None
        body = entry_doc["body"] if isinstance(entry_doc, dict) and isinstance(entry_doc.get("body"), str) else entry_text
        problems = commitments.check_opening(body, opening)
        if problems:
            for problem in problems:
                self.stderr.write(f"INVALID: {problem}")
            sys.exit(1)
        for field in opening["fields"]:
            self.stdout.write(f"VALID: {field['field']} = {json.dumps(field['value'], ensure_ascii=False)} "
                              f"opens {field['commitment']}")

    def _proof(self, options: dict) -> None:
        sub = options["proof_action"]
        if sub == "verify":
            key = options.get("key")
            try:
                if options.get("key_file"):
                    key = Path(options["key_file"]).read_text().strip()
                bundle = json.loads(Path(options["file"]).read_text())
            except OSError as exc:
                raise CommandError(f"PROOF_FILE_UNREADABLE: {exc.strerror}: {exc.filename}") from None
            except ValueError:
                raise CommandError("PROOF_MALFORMED: the proof file is not JSON.") from None
            if not isinstance(bundle, dict):
                raise CommandError("PROOF_MALFORMED: the proof file is not a proof object.")
            if not key:
                self.stderr.write(
                    "warning: no --key given; using the key inside the proof file, which proves only "
                    "self-consistency. Obtain the registry's verifier key independently."
                )
                key = bundle.get("verifier_key", "")
            try:
                proved = proofs.verify_bundle(bundle, key)
            except proofs.ProofInvalid as exc:
                self.stderr.write(f"INVALID: {exc.code}: {exc.message}")
                sys.exit(1)
            if proved["proved"] == "inclusion":
                entry = proved["entry"]
                self.stdout.write(
                    f"VALID: entry {proved['seq']} ({entry.get('kind')}, transaction {entry.get('transaction') or '-'}) "
                    f"is in the ledger of {proved['origin']} at tree size {proved['tree_size']}."
                )
            else:
                self.stdout.write(
                    f"VALID: checkpoint {proved['new_size']} extends checkpoint {proved['old_size']} of {proved['origin']}."
                )
            return
        if sub == "inclusion":
            bundle = proofs.inclusion_bundle(options["seq"], options.get("size"))
        else:
            bundle = proofs.consistency_bundle(options["old"], options.get("new"))
        text = json.dumps(bundle, indent=2)
        if options.get("output"):
            Path(options["output"]).write_text(text + "\n")
            self.stdout.write(f"wrote {options['output']}")
        else:
            self.stdout.write(text)
