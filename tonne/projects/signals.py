"""Signals of the projects app for read models kept elsewhere (the portal's
search summary): sent inside the transaction that made the change."""

from django.dispatch import Signal

# project_ids: the projects whose child records were replaced in bulk
# (bulk_create sends no post_save).
project_changed = Signal()
