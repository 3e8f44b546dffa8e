from django.db import migrations

from tonne.core import dbguards


def forwards(apps, schema_editor):
    dbguards.append_only(schema_editor, "audit_auditevent")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
