"""Full-text search over CadtRow.search: an FTS5 index kept by triggers on
SQLite, a GIN index on the same tsvector expression the queries use on PostgreSQL."""

from typing import Any

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE cadt_row_fts USING fts5(search, content='cadt_cadtrow', content_rowid='id')",
    "CREATE TRIGGER cadt_row_fts_insert AFTER INSERT ON cadt_cadtrow BEGIN "
    "INSERT INTO cadt_row_fts(rowid, search) VALUES (new.id, new.search); END",
    "CREATE TRIGGER cadt_row_fts_delete AFTER DELETE ON cadt_cadtrow BEGIN "
    "INSERT INTO cadt_row_fts(cadt_row_fts, rowid, search) VALUES ('delete', old.id, old.search); END",
    "CREATE TRIGGER cadt_row_fts_update AFTER UPDATE OF search ON cadt_cadtrow BEGIN "
    "INSERT INTO cadt_row_fts(cadt_row_fts, rowid, search) VALUES ('delete', old.id, old.search); "
    "INSERT INTO cadt_row_fts(rowid, search) VALUES (new.id, new.search); END",
]
SQLITE_UNDO = [
    "DROP TRIGGER IF EXISTS cadt_row_fts_update", "DROP TRIGGER IF EXISTS cadt_row_fts_delete",
    "DROP TRIGGER IF EXISTS cadt_row_fts_insert", "DROP TABLE IF EXISTS cadt_row_fts",
]
POSTGRESQL = ["CREATE INDEX cadt_row_search ON cadt_cadtrow USING GIN (to_tsvector('simple', search))"]
POSTGRESQL_UNDO = ["DROP INDEX IF EXISTS cadt_row_search"]


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("cadt", "0003_cadt_rows")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_UNDO, "postgresql": POSTGRESQL_UNDO}),
        ),
    ]
