"""Database-level guards that application code cannot bypass: no two serial
ranges overlap, counters never go back, and append-only tables stay so.
Written once per database vendor and applied by migrations."""

from __future__ import annotations

from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def _execute(schema_editor: BaseDatabaseSchemaEditor, statements: list[str]) -> None:
    for sql in statements:
        schema_editor.execute(sql, None)  # no placeholders: keep '%' literal


def no_overlap(schema_editor: BaseDatabaseSchemaEditor, table: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _execute(
            schema_editor,
            [
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_no_overlap "
                f"EXCLUDE USING gist (int8range(serial_start, serial_end, '[]') WITH &&)"
            ],
        )
        return
    # SQLite: blocks are disjoint before the write, so the only candidate for
    # an overlap is the block with the largest start at or below the new end.
    def guard(event: str, exclude_self: str) -> str:
        return (
            f"CREATE TRIGGER {table}_no_overlap_{event.split()[0].lower()} BEFORE {event} ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM (SELECT serial_end FROM {table} "
            f"WHERE serial_start <= NEW.serial_end {exclude_self} "
            f"ORDER BY serial_start DESC LIMIT 1) AS prev WHERE prev.serial_end >= NEW.serial_start) "
            f"BEGIN SELECT RAISE(ABORT, 'serial ranges in {table} may not overlap'); END"
        )

    _execute(
        schema_editor,
        [guard("INSERT", ""), guard("UPDATE OF serial_start, serial_end", "AND id != NEW.id")],
    )


def never_decreases(schema_editor: BaseDatabaseSchemaEditor, table: str, column: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _execute(
            schema_editor,
            [
                f"CREATE OR REPLACE FUNCTION {table}_{column}_monotonic() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF NEW.{column} < OLD.{column} THEN "
                f"RAISE EXCEPTION '{table}.{column} may never decrease' USING ERRCODE = 'integrity_constraint_violation'; "
                f"END IF; RETURN NEW; END $$",
                f"CREATE TRIGGER {table}_{column}_monotonic BEFORE UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_{column}_monotonic()",
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION tonne_reject_change()",
            ],
        )
        return
    _execute(
        schema_editor,
        [
            f"CREATE TRIGGER {table}_{column}_monotonic BEFORE UPDATE ON {table} "
            f"WHEN NEW.{column} < OLD.{column} "
            f"BEGIN SELECT RAISE(ABORT, '{table}.{column} may never decrease'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} rows may not be deleted'); END",
        ],
    )


REJECT_FUNCTION = (
    "CREATE OR REPLACE FUNCTION tonne_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    # Test databases are emptied with TRUNCATE between tests; only a
    # connection that sets this option (never the registry's) may do it.
    "IF TG_OP = 'TRUNCATE' AND current_setting('tonne.maintenance', true) = 'on' THEN RETURN NULL; END IF; "
    "RAISE EXCEPTION 'table % is append-only (% refused)', TG_TABLE_NAME, TG_OP "
    "USING ERRCODE = 'integrity_constraint_violation'; "
    "END $$"
)


def ensure_reject_function(schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REJECT_FUNCTION, None)


def append_only(schema_editor: BaseDatabaseSchemaEditor, table: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        ensure_reject_function(schema_editor)
        _execute(
            schema_editor,
            [
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION tonne_reject_change()",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION tonne_reject_change()",
            ],
        )
        return
    _execute(
        schema_editor,
        [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only (UPDATE refused)'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only (DELETE refused)'); END",
        ],
    )


def blocks_final_in_terminal_accounts(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """A block in a terminal account (retired, cancelled, exported) never
    changes again, and no block is ever deleted."""
    if schema_editor.connection.vendor == "postgresql":
        _execute(
            schema_editor,
            [
                "CREATE OR REPLACE FUNCTION units_block_final() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF TG_OP = 'DELETE' OR (SELECT is_terminal FROM organisations_account WHERE id = OLD.account_id) THEN "
                "RAISE EXCEPTION 'unit block % is final (% refused)', OLD.id, TG_OP USING ERRCODE = 'integrity_constraint_violation'; "
                "END IF; RETURN NEW; END $$",
                "CREATE TRIGGER units_unitblock_final BEFORE UPDATE OR DELETE ON units_unitblock "
                "FOR EACH ROW EXECUTE FUNCTION units_block_final()",
            ],
        )
        return
    _execute(
        schema_editor,
        [
            "CREATE TRIGGER units_unitblock_final_update BEFORE UPDATE ON units_unitblock "
            "WHEN (SELECT is_terminal FROM organisations_account WHERE id = OLD.account_id) "
            "BEGIN SELECT RAISE(ABORT, 'unit blocks in terminal accounts are final'); END",
            "CREATE TRIGGER units_unitblock_no_delete BEFORE DELETE ON units_unitblock "
            "BEGIN SELECT RAISE(ABORT, 'unit blocks are never deleted'); END",
        ],
    )
