"""A person's own notifications, and only while they are in the
organisation they were told in (someone who left sees none of its news)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tonne.notifications.models import Notification
from tonne.organisations.models import User


def notifications_for(user: User | None) -> QuerySet[Notification]:
    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    same_place = Q(organisation_id=user.organisation_id) if user.organisation_id else Q(organisation_id=None)
    return Notification.objects.filter(Q(recipient=user) & same_place)


def unread_count(user: User | None) -> int:
    return notifications_for(user).filter(read_at=None).count()
