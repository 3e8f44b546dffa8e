from django.db import migrations

from tonne.core import dbguards


def forwards(apps, schema_editor):
    # A unit is authorised once and first-transferred once.
    dbguards.no_overlap(schema_editor, "article6_authorisedrange")
    dbguards.no_overlap(schema_editor, "article6_firsttransfer")


class Migration(migrations.Migration):
    dependencies = [("article6", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
