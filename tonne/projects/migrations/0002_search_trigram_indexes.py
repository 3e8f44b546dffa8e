"""Indexes for the public project search: trigrams (PostgreSQL only) and
the time of the latest project change.

The search matches each word anywhere in the name, identifier or
description (`icontains`, i.e. UPPER(col) LIKE UPPER('%word%')); without
these indexes every search scans the whole table. SQLite keeps the scan."""

from django.db import migrations

COLUMNS = ("name", "project_id", "description")


def create(apps, schema_editor):
    # The portal caches search facets under the newest project change.
    schema_editor.execute("CREATE INDEX IF NOT EXISTS projects_project_updated_at ON projects_project (updated_at)")
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS projects_project_{column}_trgm "
            f"ON projects_project USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS projects_project_updated_at")
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS projects_project_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
