"""The notifications service: its subgraph definition (event consumer, mail sender) and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.context import Runtime
from shared.peers import peer_health_check
from shared.privacy import forgetting_users
from shared.subscriptions import ConsumerSpec
from subgraphs.notifications.events import NotificationEvents, consumer_spec
from subgraphs.notifications.loaders import build_loaders
from subgraphs.notifications.mail import Templates
from subgraphs.notifications.metrics import NotificationsMetrics
from subgraphs.notifications.peers import Directory
from subgraphs.notifications.privacy import user_deleted
from subgraphs.notifications.schema import schema
from subgraphs.notifications.sender import MailSender
from subgraphs.notifications.settings import NotificationsSettings
from subgraphs.notifications.state import NotificationsState
from subgraphs.notifications.webhooks_dispatch import WebhookDispatcher, WebhookMetrics
from subgraphs.notifications.webhooks_events import consume_webhook_events


async def setup(runtime: Runtime[NotificationsState]) -> NotificationsState:
    settings = runtime.settings
    if not isinstance(settings, NotificationsSettings):
        raise TypeError("the notifications service runs with NotificationsSettings")
    directory = Directory(settings, runtime.service_tokens)
    templates = Templates()
    return NotificationsState(
        settings=settings,
        metrics=NotificationsMetrics(runtime.metrics),
        directory=directory,
        templates=templates,
        events=NotificationEvents(settings, directory, templates),
    )


def consumer(runtime: Runtime[NotificationsState]) -> ConsumerSpec:
    """The consumer's handlers are this process's `NotificationEvents` (its peers, templates)."""
    spec = consumer_spec(runtime.state.events)
    # Users' `UserDeleted` (privacy.py): the user's mails and watches go, and their dead letters are scrubbed.
    return forgetting_users(spec, user_deleted(runtime, spec))


async def teardown(runtime: Runtime[NotificationsState]) -> None:
    if runtime.state is not None:
        await runtime.state.directory.close()


async def send_notifications(runtime: Runtime[NotificationsState]) -> None:
    """The sender worker: mails the PENDING notifications over SMTP (see sender.py)."""
    state = runtime.state
    await MailSender(runtime.sessionmaker, state.settings, state.metrics).run()


async def dispatch_webhooks(runtime: Runtime[NotificationsState]) -> None:
    """The webhook dispatcher: POSTs the due deliveries, signed (see webhooks_dispatch.py)."""
    state = runtime.state
    metrics = WebhookMetrics.on(runtime.metrics.registry)
    await WebhookDispatcher(
        runtime.sessionmaker, state.settings, state.directory, state.templates, metrics
    ).run()


definition = SubgraphDefinition[NotificationsState](
    name="notifications",
    settings_class=NotificationsSettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
    teardown=teardown,
    consumer=consumer,
    # The webhooks: their own consumer group (`webhooks`) turns events into deliveries; the dispatcher sends.
    workers=[send_notifications, consume_webhook_events, dispatch_webhooks],
    # Mails need their recipients' addresses (users) and product names (products).
    readiness_checks={peer: peer_health_check(f"{peer}_url") for peer in ("users", "products")},
)


def build_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
