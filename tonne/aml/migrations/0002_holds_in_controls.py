"""Holds now live in the controls (controls.AccountHold), which the move
path reads: copy the holds of alerts still in force there."""

from django.db import migrations


def copy_holds(apps, schema_editor):  # noqa: ANN001, ANN201
    AmlAlert = apps.get_model("aml", "AmlAlert")
    AccountHold = apps.get_model("controls", "AccountHold")
    for alert in AmlAlert.objects.filter(hold=True, account__isnull=False).exclude(status="dismissed"):
        AccountHold.objects.get_or_create(
            alert_id=alert.pk, defaults={"account_id": alert.account_id, "rule": alert.rule, "created_at": alert.created_at}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("aml", "0001_initial"),
        ("controls", "0003_accounthold"),
    ]

    operations = [migrations.RunPython(copy_holds, migrations.RunPython.noop)]
