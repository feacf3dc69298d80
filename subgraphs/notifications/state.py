"""What one notifications process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

from dataclasses import dataclass

from subgraphs.notifications.events import NotificationEvents
from subgraphs.notifications.mail import Templates
from subgraphs.notifications.metrics import NotificationsMetrics
from subgraphs.notifications.peers import Directory
from subgraphs.notifications.settings import NotificationsSettings


@dataclass(frozen=True, slots=True)
class NotificationsState:
    settings: NotificationsSettings
    metrics: NotificationsMetrics
    directory: Directory
    templates: Templates
    events: NotificationEvents
