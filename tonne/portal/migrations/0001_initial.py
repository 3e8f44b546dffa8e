"""The portal's per-project search summary.

On PostgreSQL, GIN indexes serve the facet filters (`tokens && array[...]`)
and the words (trigrams, `text LIKE '%word%'`); SQLite scans the table.
Existing projects are summarised once here (`tonne portal rebuild-summary`
does the same later)."""

import django.db.models.deletion
import tonne.portal.models
from django.db import migrations, models


def indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute("CREATE INDEX portal_sum_tokens ON portal_projectsummary USING gin (tokens)")
    schema_editor.execute("CREATE INDEX portal_sum_text_trgm ON portal_projectsummary USING gin (text gin_trgm_ops)")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS portal_sum_tokens")
        schema_editor.execute("DROP INDEX IF EXISTS portal_sum_text_trgm")


def fill(apps, schema_editor):
    from tonne.portal.summary import rebuild

    rebuild()


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('projects', '0002_search_trigram_indexes'),
        ('units', '0002_serial_guards'),
    ]

    operations = [
        migrations.CreateModel(
            name='FacetToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token', models.CharField(max_length=400, unique=True)),
                ('bits', models.BinaryField(default=b'')),
            ],
        ),
        migrations.CreateModel(
            name='DashboardFigure',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('dimension', models.CharField(max_length=20)),
                ('value', models.CharField(max_length=200)),
                ('units', models.BigIntegerField(default=0)),
                ('projects', models.IntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('dimension', 'value'), name='portal_figure_once')],
            },
        ),
        migrations.CreateModel(
            name='ProjectSummary',
            fields=[
                ('project', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='summary', serialize=False, to='projects.project')),
                ('public', models.BooleanField()),
                ('number', models.PositiveIntegerField()),
                ('name', models.CharField(max_length=300)),
                ('project_code', models.CharField(max_length=100)),
                ('status', models.CharField(max_length=20)),
                ('updated_at', models.DateTimeField()),
                ('crediting_period_start', models.DateField(null=True)),
                ('crediting_period_end', models.DateField(null=True)),
                ('sectoral_scope', models.PositiveSmallIntegerField()),
                ('article6_status', models.CharField(max_length=20)),
                ('first_region', models.CharField(max_length=200)),
                ('first_methodology', models.CharField(max_length=100)),
                ('issued', models.BigIntegerField()),
                ('issuances', models.PositiveIntegerField()),
                ('text', models.TextField()),
                ('tokens', tonne.portal.models.TokenIdsField(default=list)),
            ],
            options={
                'indexes': [models.Index(fields=['number'], name='portal_sum_number'), models.Index(fields=['name', 'number'], name='portal_sum_name'), models.Index(fields=['project_code'], name='portal_sum_project_code'), models.Index(fields=['status', 'number'], name='portal_sum_status'), models.Index(fields=['crediting_period_start', 'number'], name='portal_sum_crediting'), models.Index(fields=['crediting_period_end'], name='portal_sum_crediting_end'), models.Index(fields=['-updated_at', '-number'], name='portal_sum_updated')],
            },
        ),
        migrations.RunPython(indexes, drop_indexes),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
