"""The live-feed Broker fans events out to subscribers with bounded queues: a subscriber gets,
in order, exactly the published events its filter accepts; ``publish`` is a plain function that
never waits, however far behind a subscriber is; a subscriber whose queue is full is dropped
(and counted in ``dropped``), its ``overflowed`` flag is set, and its reader gets the events it
had queued and then None; and ``close_all`` ends every subscription (full or not) with None
after whatever it had queued."""

from __future__ import annotations

import asyncio
import inspect

from phoenixd.core.application.feeds import SUBSCRIBER_QUEUE_LIMIT, Broker, Subscription
from phoenixd.core.events import Event


def _event(seq: int, type_: str = "member_updated") -> Event:
    return Event(sequence=seq, time=0.0, type=type_, actor="operator")


def _events(first: int, last: int) -> list[Event]:
    return [_event(seq) for seq in range(first, last + 1)]


def _drain(sub: Subscription) -> list[Event | None]:
    """Everything a reader would get without waiting, up to and including a None."""
    got: list[Event | None] = []
    while not sub.queue.empty():
        item = sub.queue.get_nowait()
        got.append(item)
        if item is None:
            break
    return got


def test_the_queue_limit_is_bounded() -> None:
    assert 0 < SUBSCRIBER_QUEUE_LIMIT < 1_000_000


def test_published_events_reach_every_subscriber_in_order() -> None:
    async def scenario() -> None:
        broker = Broker()
        one, two = broker.subscribe(), broker.subscribe()
        events = _events(1, 5)
        broker.publish(events)
        assert _drain(one) == events
        assert _drain(two) == events
        assert len(broker) == 2

    asyncio.run(scenario())


def test_a_subscriber_gets_only_the_events_it_accepts() -> None:
    async def scenario() -> None:
        broker = Broker()
        odd = broker.subscribe(lambda e: e.sequence % 2 == 1)
        broker.publish(_events(1, 6))
        assert [e.sequence for e in _drain(odd) if e is not None] == [1, 3, 5]

    asyncio.run(scenario())


def test_rejected_events_do_not_use_up_the_queue() -> None:
    async def scenario() -> None:
        broker = Broker(limit=2)
        picky = broker.subscribe(lambda e: e.type == "member_failed")
        broker.publish(_events(1, 50))
        assert not picky.overflowed
        assert len(broker) == 1
        broker.publish([_event(51, "member_failed")])
        assert _drain(picky) == [_event(51, "member_failed")]

    asyncio.run(scenario())


def test_a_waiting_reader_is_woken_by_a_publish() -> None:
    async def scenario() -> None:
        broker = Broker()
        sub = broker.subscribe()
        reader = asyncio.create_task(sub.queue.get())
        await asyncio.sleep(0)  # the reader is now waiting on an empty queue
        broker.publish([_event(1)])
        assert await reader == _event(1)

    asyncio.run(scenario())


def test_publish_is_a_plain_function() -> None:
    assert not inspect.iscoroutinefunction(Broker.publish)


def test_publish_to_a_subscriber_that_never_reads_returns() -> None:
    async def scenario() -> None:
        broker = Broker(limit=4)
        stuck = broker.subscribe()
        for seq in range(1, 1001):
            broker.publish([_event(seq)])
        assert stuck.overflowed

    asyncio.run(scenario())


def test_a_full_subscriber_is_dropped_and_flagged() -> None:
    async def scenario() -> None:
        broker = Broker(limit=3)
        slow = broker.subscribe()
        broker.publish(_events(1, 4))
        assert slow.overflowed
        assert len(broker) == 0

    asyncio.run(scenario())


def test_a_dropped_subscriber_gets_what_it_had_queued_then_none() -> None:
    async def scenario() -> None:
        broker = Broker(limit=3)
        slow = broker.subscribe()
        broker.publish(_events(1, 10))
        assert [await slow.queue.get() for _ in range(4)] == [*_events(1, 3), None]
        assert slow.queue.empty()

    asyncio.run(scenario())


def test_a_dropped_subscriber_hears_nothing_more() -> None:
    async def scenario() -> None:
        broker = Broker(limit=2)
        slow = broker.subscribe()
        broker.publish(_events(1, 3))
        broker.publish(_events(4, 6))
        assert _drain(slow) == [*_events(1, 2), None]

    asyncio.run(scenario())


def test_one_slow_subscriber_does_not_hold_back_the_others() -> None:
    async def scenario() -> None:
        broker = Broker(limit=3)
        slow, fast = broker.subscribe(), broker.subscribe()
        got: list[Event | None] = []
        for seq in range(1, 11):
            broker.publish([_event(seq)])
            got.extend(_drain(fast))
        assert got == _events(1, 10)
        assert not fast.overflowed
        assert slow.overflowed
        assert len(broker) == 1
        assert broker.dropped == 1  # counted for the metrics endpoint

    asyncio.run(scenario())


def test_unsubscribe_stops_delivery() -> None:
    async def scenario() -> None:
        broker = Broker()
        sub = broker.subscribe()
        broker.unsubscribe(sub)
        broker.unsubscribe(sub)  # twice is harmless
        broker.publish(_events(1, 3))
        assert sub.queue.empty()
        assert len(broker) == 0

    asyncio.run(scenario())


def test_close_all_ends_every_subscription_with_none() -> None:
    async def scenario() -> None:
        broker = Broker()
        subs = [broker.subscribe() for _ in range(3)]
        broker.publish(_events(1, 2))
        broker.close_all("daemon shutting down")
        for sub in subs:
            assert _drain(sub) == [*_events(1, 2), None]
            assert sub.closed_reason == "daemon shutting down"
            assert not sub.overflowed
        assert len(broker) == 0

    asyncio.run(scenario())


def test_close_all_wakes_a_waiting_reader_with_none() -> None:
    async def scenario() -> None:
        broker = Broker()
        sub = broker.subscribe()
        reader = asyncio.create_task(sub.queue.get())
        await asyncio.sleep(0)
        broker.close_all("bye")
        assert await reader is None

    asyncio.run(scenario())


def test_close_all_ends_a_full_subscription_with_none_after_its_events() -> None:
    async def scenario() -> None:
        broker = Broker(limit=2)
        full = broker.subscribe()
        broker.publish(_events(1, 2))  # exactly full: not dropped
        assert len(broker) == 1 and not full.overflowed
        broker.close_all("daemon shutting down")
        assert broker.dropped == 0  # closed, not dropped for falling behind
        # A reader must learn that the feed ended, not block forever after the last event.
        assert _drain(full) == [*_events(1, 2), None]

    asyncio.run(scenario())


def test_publish_after_close_all_reaches_nobody() -> None:
    async def scenario() -> None:
        broker = Broker()
        sub = broker.subscribe()
        broker.close_all("bye")
        broker.publish(_events(1, 2))
        assert _drain(sub) == [None]

    asyncio.run(scenario())


def test_a_reader_waiting_in_get_is_told_of_the_overflow() -> None:
    async def scenario() -> tuple[bool, list[int]]:
        broker = Broker(limit=4)
        sub = broker.subscribe()
        got: list[int] = []

        async def reader() -> bool:
            while (event := await sub.queue.get()) is not None:
                got.append(event.sequence)
            return sub.overflowed

        task = asyncio.create_task(reader())
        await asyncio.sleep(0)  # the reader now waits inside get()
        broker.publish(_events(1, 10))  # one batch, bigger than the queue
        return await asyncio.wait_for(task, 5), got

    overflowed, got = asyncio.run(scenario())
    assert overflowed
    assert got == [1, 2, 3, 4]


def test_closing_ends_the_stream_without_calling_it_an_overflow() -> None:
    async def scenario() -> Subscription:
        broker = Broker(limit=2)
        sub = broker.subscribe()
        broker.publish(_events(1, 2))  # exactly full
        broker.close_all("daemon shutting down")
        return sub

    sub = asyncio.run(scenario())
    assert [e.sequence if e else None for e in _drain(sub)] == [1, 2, None]
    assert not sub.overflowed
    assert sub.closed_reason == "daemon shutting down"
