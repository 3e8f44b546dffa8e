"""Facts about the installation itself, kept with its data."""

from __future__ import annotations

from django.db import models


class Installation(models.Model):
    """One row: what this installation is. A training sandbox is marked when it
    is built (`tonne demo --training`) and stays one: nothing unmarks it, so no
    page, certificate or API answer of a sandbox can pass for a real registry's."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    training = models.BooleanField(default=False)
    marked_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="core_installation_one_row")]

    def __str__(self) -> str:
        return "training installation" if self.training else "installation"
