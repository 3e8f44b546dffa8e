from django.db import migrations, models

from tonne.core import dbguards


def forwards(apps, schema_editor):
    # An authorisation made with one first-transfer definition: that
    # definition becomes the definition of each purpose.
    Authorisation = apps.get_model("article6", "Authorisation")
    for a in Authorisation.objects.all():
        if a.definitions:
            continue
        a.definitions = {"ndc": a.first_transfer_definition, "oimp": a.first_transfer_definition}
        a.save(update_fields=["definitions"])


def guard_again(apps, schema_editor):
    # SQLite adds a NOT NULL column by remaking the table, which drops its
    # triggers: the no-overlap guard again (PostgreSQL keeps its constraint).
    if schema_editor.connection.vendor == "sqlite":
        dbguards.no_overlap(schema_editor, "article6_firsttransfer")


class Migration(migrations.Migration):
    dependencies = [("article6", "0004_identity_kept")]

    operations = [
        migrations.AddField(model_name="authorisation", name="definitions", field=models.JSONField(default=dict)),
        migrations.AddField(
            model_name="firsttransfer", name="purpose", field=models.CharField(blank=True, default="", max_length=10)
        ),
        migrations.RunPython(guard_again, migrations.RunPython.noop),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
