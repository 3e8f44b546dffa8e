from django.db import migrations

from tonne.core import dbguards


def forwards(apps, schema_editor):
    dbguards.append_only(schema_editor, "mrv_reading")
    dbguards.append_only(schema_editor, "mrv_readingbatch")


class Migration(migrations.Migration):
    dependencies = [("mrv", "0003_data_sources_readings")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
