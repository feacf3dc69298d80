"""The notifications service: its subgraph definition (event consumer, mail sender) and ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import SubgraphDefinition, create_subgraph_app
from shared.consumer import ConsumerSpec
from shared.context import Runtime
from shared.peers import peer_health_check
from subgraphs.notifications.events import NotificationEvents, consumer_spec
from subgraphs.notifications.loaders import build_loaders
from subgraphs.notifications.mail import Templates
from subgraphs.notifications.peers import Directory
from subgraphs.notifications.schema import schema
from subgraphs.notifications.sender import MailSender, SenderMetrics
from subgraphs.notifications.service import STATE_KEY, NotificationsKit
from subgraphs.notifications.settings import NotificationsSettings


async def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    if not isinstance(settings, NotificationsSettings):
        raise TypeError("the notifications service runs with NotificationsSettings")
    directory = Directory(settings, runtime.service_tokens)
    templates = Templates()
    events = NotificationEvents(settings, directory, templates)
    runtime.state[STATE_KEY] = NotificationsKit(
        settings=settings,
        directory=directory,
        templates=templates,
        events=events,
        sender_metrics=SenderMetrics.on(runtime.metrics.registry, runtime.definition.name),
    )


def consumer(runtime: Runtime) -> ConsumerSpec:
    """The consumer's handlers are this process's `NotificationEvents` (its peers, templates)."""
    return consumer_spec(runtime.state[STATE_KEY].events)


async def teardown(runtime: Runtime) -> None:
    kit: NotificationsKit | None = runtime.state.get(STATE_KEY)
    if kit is not None:
        await kit.directory.close()


async def send_notifications(runtime: Runtime) -> None:
    """The sender worker: mails the PENDING notifications over SMTP (see sender.py)."""
    kit: NotificationsKit = runtime.state[STATE_KEY]
    await MailSender(runtime.sessionmaker, kit.settings, kit.sender_metrics).run()


definition = SubgraphDefinition(
    name="notifications",
    settings_class=NotificationsSettings,
    schema=schema,
    build_loaders=build_loaders,
    setup=setup,
    teardown=teardown,
    consumer=consumer,
    workers=[send_notifications],
    # Mails need their recipients' addresses (users) and product names (products).
    readiness_checks={peer: peer_health_check(f"{peer}_url") for peer in ("users", "products")},
)


def build_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return create_subgraph_app(definition, settings)
