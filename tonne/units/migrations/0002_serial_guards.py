from django.db import migrations

from tonne.core import dbguards


def forwards(apps, schema_editor):
    dbguards.ensure_reject_function(schema_editor)
    dbguards.no_overlap(schema_editor, "units_unitblock")
    dbguards.no_overlap(schema_editor, "units_issuance")
    dbguards.blocks_final_in_terminal_accounts(schema_editor)
    dbguards.never_decreases(schema_editor, "units_serialcounter", "next_serial")
    apps.get_model("units", "SerialCounter").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("units", "0001_initial"), ("organisations", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
