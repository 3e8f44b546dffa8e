"""Freezes the registry placed itself for a reconciliation mismatch last
until the mismatch is resolved: those still in place lose the end date
they were given (a resolved mismatch's freezes were all lifted)."""

from django.db import migrations


def until_lifted(apps, schema_editor):  # noqa: ANN001, ARG001
    freeze = apps.get_model("controls", "Freeze")
    freeze.objects.filter(created_by__isnull=True, scope="serials", lifted_at__isnull=True).update(expires_at=None)


class Migration(migrations.Migration):

    dependencies = [
        ("controls", "0006_freeze_placed_by_registry"),
    ]

    operations = [migrations.RunPython(until_lifted, migrations.RunPython.noop)]
