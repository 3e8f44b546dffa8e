"""The ledger: immutable entries (RFC 9162 Merkle leaves chained by hash)
and signed checkpoints. Both tables are append-only in the database."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class LedgerEntry(models.Model):
    seq = models.PositiveBigIntegerField(unique=True)  # leaf index, from 0
    kind = models.CharField(max_length=40)
    transaction_ref = models.CharField(max_length=30, blank=True, db_index=True)
    body = models.TextField()  # canonical JSON; the leaf is SHA-256(0x00 || body)
    prev_hash = models.CharField(max_length=64)
    leaf_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"ledger entry {self.seq} ({self.kind})"


class LedgerHead(models.Model):
    """Size and last hash of the ledger; its row lock serialises appends."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="single_ledger_head")]

    def __str__(self) -> str:
        return f"ledger head at {self.size}"


class Checkpoint(models.Model):
    size = models.PositiveBigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    note = models.TextField()  # C2SP signed note, as published
    # Roots of the perfect subtrees at this size (hex, comma-separated), so the
    # next checkpoint hashes only the new entries.
    compact_range = models.TextField(blank=True)
    key_name = models.CharField(max_length=100)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["size"]

    def __str__(self) -> str:
        return f"checkpoint {self.size}"


class WitnessedLog(models.Model):
    """Another registry's log this installation witnesses (C2SP tlog-witness):
    the last checkpoint it cosigned is what every later one must extend."""

    origin = models.CharField(max_length=200, unique=True)
    verifier_key = models.CharField(max_length=300)  # the log's own note key
    url = models.CharField(max_length=2000)  # the log's base URL
    size = models.PositiveBigIntegerField(default=0)  # last cosigned
    root_hash = models.CharField(max_length=64, blank=True)
    cosigned_note = models.TextField(blank=True)  # the log's note with this witness's cosignature
    cosigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["origin"]

    def __str__(self) -> str:
        return f"witnessed log {self.origin}"


class WitnessRefusal(models.Model):
    """A checkpoint this witness would not cosign, kept as evidence."""

    log = models.ForeignKey(WitnessedLog, on_delete=models.PROTECT, related_name="refusals")
    code = models.CharField(max_length=40)
    message = models.TextField()
    note = models.TextField(blank=True)  # what was served, as served
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.code} for {self.log.origin}"


class RegistryWitness(models.Model):
    """A witness of this registry's own log, whose cosignatures it collects
    and publishes with its checkpoints."""

    name = models.CharField(max_length=200, unique=True)
    verifier_key = models.CharField(max_length=300)  # cosignature/v1 key
    url = models.CharField(max_length=2000)  # the witness installation's base URL

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"witness {self.name}"


class Cosignature(models.Model):
    """A witness's cosignature line on one of this registry's checkpoints."""

    witness = models.ForeignKey(RegistryWitness, on_delete=models.PROTECT, related_name="cosignatures")
    size = models.PositiveBigIntegerField()  # the checkpoint it cosigns
    line = models.TextField()  # the signature line, as the witness made it
    collected_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["witness", "size"], name="one_cosignature_per_witness_size")]

    def __str__(self) -> str:
        return f"cosignature of {self.size} by {self.witness.name}"


class CommitmentKey(models.Model):
    """The key from which accounts' and users' pseudonyms are derived. Never
    published: with it, anyone could test a guessed account against a pseudonym."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    key = models.CharField(max_length=64)  # hex, 32 random bytes

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="single_commitment_key")]

    def __str__(self) -> str:
        return "commitment key"


class Opening(models.Model):
    """The value and salt behind one commitment (``c:…``) in an entry's body:
    private, shown only to those the entry concerns (see tonne.ledger.openings)."""

    commitment = models.CharField(max_length=66, primary_key=True)
    path = models.CharField(max_length=200)  # the field in the entry's data
    value = models.TextField()  # canonical JSON
    salt = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"opening of {self.commitment[:14]}…"
