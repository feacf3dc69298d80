"""The event bus on a three-node Redis Cluster: the relay's MULTI of XADDs, consumer groups (XREADGROUP over
several streams at once, XCLAIM/XAUTOCLAIM of a killed consumer, dead-lettering's MULTI, replay) and the
stream trim. The key tests of test_outbox and test_consumer run here unchanged, on a cluster client."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from test_consumer import (
    Db,
    Script,
    Setup,
    db,
    drain,
    effects,
    scratch_url,
    test_a_handler_that_keeps_raising_is_dead_lettered_after_max_attempts,
    test_a_replay_after_the_fix_applies_the_dead_letter_once_and_removes_it,
    test_messages_pending_with_a_killed_consumer_are_claimed_and_processed_by_another,
)
from test_outbox import (
    outbox_db,
    scratch_outbox,
    stream,
    test_prune_trims_stream_entries_older_than_the_stream_retention,
    test_relay_publishes_committed_events_in_order_with_the_full_envelope,
    test_two_relays_of_one_producer_running_together_publish_each_event_once_in_order,
)

from shared.consumer import Consumer
from shared.metrics import ConsumerMetrics
from shared.outbox import stream_name
from shared.redis_client import slot_of
from shared.subscriptions import ConsumerSpec, Subscription, dead_letter_stream

REUSED = (
    db,
    scratch_url,
    outbox_db,
    scratch_outbox,
    stream,
    test_relay_publishes_committed_events_in_order_with_the_full_envelope,
    test_two_relays_of_one_producer_running_together_publish_each_event_once_in_order,
    test_prune_trims_stream_entries_older_than_the_stream_retention,
    test_a_handler_that_keeps_raising_is_dead_lettered_after_max_attempts,
    test_a_replay_after_the_fix_applies_the_dead_letter_once_and_removes_it,
    test_messages_pending_with_a_killed_consumer_are_claimed_and_processed_by_another,
)


@pytest.fixture
async def setup(db: Db, redis_cluster: Any) -> AsyncIterator[Setup]:
    producer = f"c{uuid.uuid4().hex[:8]}"
    client = redis_cluster.client()
    try:
        yield Setup(db, client, os.environ["MYSHOP_REDIS_PREFIX"], producer, Script(), CollectorRegistry())
    finally:
        await client.aclose()


def test_every_key_of_the_bus_shares_one_slot() -> None:
    prefix = os.environ["MYSHOP_REDIS_PREFIX"]
    keys = [stream_name(prefix, p) for p in ("orders", "users", "products", "inventory", "payments")]
    keys += [dead_letter_stream(prefix, g) for g in ("orders", "notifications")]
    keys += [dead_letter_stream("myshop:", "analytics"), stream_name("myshop:", "shipping")]

    assert len({slot_of(key) for key in keys}) == 1


async def test_one_consumer_reads_several_producers_streams_in_one_xreadgroup(setup: Setup) -> None:
    # Given two producers' streams, consumed by one group in one consumer
    other = Setup(
        setup.db, setup.redis, setup.prefix, f"c{uuid.uuid4().hex[:8]}", setup.script, setup.registry
    )
    spec = ConsumerSpec(
        group=setup.group,
        subscriptions=[
            Subscription(setup.producer, {"ThingHappened": setup.script.handle}),
            Subscription(other.producer, {"ThingHappened": setup.script.handle}),
        ],
        processed=setup.spec.processed,
    )
    consumer = Consumer(
        spec, setup.db.sessions, setup.redis, setup.prefix, block_ms=20, read_timeout=1.0,
        metrics=ConsumerMetrics.on(setup.registry),
    )  # fmt: skip
    await setup.publish(1, 2)
    await other.publish(3)

    # When it drains them
    await drain(consumer)

    # Then every event of both streams was applied once and acknowledged
    assert await setup.db.effect_numbers() == [1, 2, 3]
    assert await setup.db.count(effects) == 3
    assert await setup.pending() == 0
    assert (await setup.redis.xpending(other.stream, setup.group))["pending"] == 0
    assert set(await consumer.refresh_lag()) == {setup.stream, other.stream}
