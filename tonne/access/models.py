"""Counters shared by every server process: API rate limits and the
authentication lockout. One row per client and window; incremented by one
atomic statement, so N processes never grant N times the limit."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    key = models.CharField(max_length=120, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
