from django.db import migrations, models

# Received units come once: the same origin serials from one sending
# registry, or the same ITMO serials from one originating registry, never
# twice, whatever the transfer. Checked under a lock of the registry's key
# (PostgreSQL: an advisory lock, so concurrent imports wait for each other;
# SQLite: one writer at a time).
GUARDS = {
    "origin": ("origin_registry", "origin_serial_start", "origin_serial_end", "origin serials already imported"),
    "itmo": ("originating_registry", "itmo_serial_start", "itmo_serial_end", "itmo serials already in this registry"),
}
TABLE = "article6_importedrange"


def _overlap(key: str, start: str, end: str, other: str) -> str:
    return f"SELECT 1 FROM {TABLE} WHERE {key} = NEW.{key} AND {start} <= NEW.{end} AND {end} >= NEW.{start}{other}"


def forwards(apps, schema_editor):
    ImportedRange = apps.get_model("article6", "ImportedRange")
    for r in ImportedRange.objects.select_related("transfer"):
        serials = r.itmo_id.split(":")[3] if r.itmo_id.count(":") == 4 else ""
        low, _, high = serials.partition("-")
        r.origin_registry = r.transfer.origin_registry
        if low.isdigit() and (not high or high.isdigit()):
            r.itmo_serial_start, r.itmo_serial_end = int(low), int(high or low)
        r.save(update_fields=["origin_registry", "itmo_serial_start", "itmo_serial_end"])
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, (key, start, end, message) in GUARDS.items():
        if postgres:
            statements = [
                f"CREATE OR REPLACE FUNCTION a6_imported_{name}_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.{start} IS NULL THEN RETURN NEW; END IF; "
                f"PERFORM pg_advisory_xact_lock(hashtext('a6_imported_{name}:' || NEW.{key})); "
                f"IF EXISTS ({_overlap(key, start, end, ' AND id IS DISTINCT FROM NEW.id')}) THEN "
                f"RAISE EXCEPTION '{message}' USING ERRCODE = 'unique_violation'; END IF; "
                f"RETURN NEW; END $$",
                f"CREATE TRIGGER a6_imported_{name}_once BEFORE INSERT OR UPDATE ON {TABLE} "
                f"FOR EACH ROW EXECUTE FUNCTION a6_imported_{name}_once()",
            ]
        else:
            statements = [
                f"CREATE TRIGGER a6_imported_{name}_once_{event.split()[0].lower()} BEFORE {event} ON {TABLE} "
                f"WHEN NEW.{start} IS NOT NULL AND EXISTS ({_overlap(key, start, end, other)}) "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                for event, other in (("INSERT", ""), ("UPDATE", " AND id <> NEW.id"))
            ]
        for sql in statements:
            schema_editor.execute(sql, None)


class Migration(migrations.Migration):
    dependencies = [("article6", "0003_international")]

    operations = [
        migrations.AddField(model_name="importedrange", name="origin_registry",
                            field=models.CharField(default="", max_length=100)),
        migrations.AddField(model_name="importedrange", name="origin_project",
                            field=models.CharField(blank=True, max_length=100)),
        migrations.AddField(model_name="importedrange", name="unit_class",
                            field=models.CharField(blank=True, max_length=10)),
        migrations.AddField(model_name="importedrange", name="period_start",
                            field=models.DateField(blank=True, null=True)),
        migrations.AddField(model_name="importedrange", name="period_end",
                            field=models.DateField(blank=True, null=True)),
        migrations.AddField(model_name="importedrange", name="itmo_serial_start",
                            field=models.PositiveBigIntegerField(blank=True, null=True)),
        migrations.AddField(model_name="importedrange", name="itmo_serial_end",
                            field=models.PositiveBigIntegerField(blank=True, null=True)),
        migrations.AddIndex(model_name="importedrange", index=models.Index(
            fields=["origin_registry", "origin_serial_start"], name="a6_imported_by_origin")),
        migrations.AddIndex(model_name="importedrange", index=models.Index(
            fields=["originating_registry", "itmo_serial_start"], name="a6_imported_by_itmo")),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
