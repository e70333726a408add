"""How every service's subscribers and broker are built, read from the code of each service:
events through durable pull consumers fetching one message at a time (a batched pull held a
message that came while it waited: `shared.settings`), acknowledged only after the handler
(NACK_ON_ERROR, never FastStream's drop-on-error default), redelivered at most `max_deliver`
times; commands in a queue group; a broker that never stops reconnecting (nats-py stops after 60
tries by default)."""

from __future__ import annotations

import pytest
from faststream import AckPolicy
from faststream.nats.subscriber.usecases.core_subscriber import CoreSubscriber
from faststream.nats.subscriber.usecases.stream_pull_subscriber import PullStreamSubscriber

from cli.asyncapi import SERVICES, built
from shared.catalogue import events_of


@pytest.mark.parametrize("service", SERVICES)
def test_events_are_pulled_one_at_a_time_acked_after_the_handler_and_redelivered_a_bounded_number_of_times(
    service: str,
) -> None:
    svc = built(service)
    events = [sub for sub in svc.broker.subscribers if getattr(sub, "stream", None) is not None]
    assert events, f"{service} consumes no events?"
    durables = set()
    for sub in events:
        subject = str(sub._resolved_subject_string)
        assert isinstance(sub, PullStreamSubscriber), f"{subject}: not a pull consumer"
        assert sub.pull_sub.batch_size == svc.settings.batch_size == 1, f"{subject}: fetches in batches"
        assert sub.ack_policy == AckPolicy.NACK_ON_ERROR, f"{subject}: {sub.ack_policy}"
        assert sub.config.max_deliver == svc.settings.max_deliver >= 2, f"{subject}: max_deliver"
        assert sub.config.durable_name and sub.config.durable_name.startswith(f"{service}-"), subject
        assert sub.stream.name == subject.split(".")[0].upper(), f"{subject}: read from the owner's stream"
        assert subject in events_of(subject.split(".")[0]), f"{subject} is not an event of its owner"
        durables.add(sub.config.durable_name)
    assert len(durables) == len(events), "two consumers share a durable name"


@pytest.mark.parametrize("service", SERVICES)
def test_commands_share_the_work_in_a_queue_group_and_the_broker_reconnects_forever(service: str) -> None:
    svc = built(service)
    commands = [sub for sub in svc.broker.subscribers if isinstance(sub, CoreSubscriber)]
    assert commands and all(sub.queue == service for sub in commands)
    options = svc.broker._connection_kwargs
    assert options["allow_reconnect"] and options["max_reconnect_attempts"] == -1
