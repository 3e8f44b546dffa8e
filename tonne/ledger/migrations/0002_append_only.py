from django.db import migrations

from tonne.core import dbguards


def forwards(apps, schema_editor):
    dbguards.append_only(schema_editor, "ledger_ledgerentry")
    dbguards.append_only(schema_editor, "ledger_checkpoint")
    apps.get_model("ledger", "LedgerHead").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
