from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("organisations", "0002_user_in_force_from"),
    ]

    operations = [
        migrations.AddField(
            model_name="organisation",
            name="acts_for_clients",
            field=models.BooleanField(default=False),
        ),
    ]
