"""The reconnecting MQTT session against a real Mosquitto on a free loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
import gc
import logging
from pathlib import Path

import aiomqtt
import pytest

from dacs.broker import set_user
from dacs.mqtt import Backoff, ClientSettings, MqttSession
from dacs.mqtt.session import ConnectedWork, MessageHandler
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.servers.ports import find_free_port

LOGGER = "dacs.mqtt.session"
FAST = Backoff(0.05, 0.4)


class Recorder:
    """What the session handed over, and how often its hooks ran."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.arrived = asyncio.Event()
        self.connects = 0
        self.disconnects = 0
        self.errors: list[Exception] = []

    async def on_message(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, payload))
        self.arrived.set()

    async def on_connect(self) -> None:
        self.connects += 1

    def on_disconnect(self) -> None:
        self.disconnects += 1

    def on_error(self, err: Exception) -> None:
        self.errors.append(err)


def _session(
    port: int,
    recorder: Recorder,
    *,
    backoff: Backoff = FAST,
    on_message: MessageHandler | None = None,
    while_connected: ConnectedWork | None = None,
) -> MqttSession:
    return MqttSession(
        ClientSettings(host="127.0.0.1", port=port, client_id="session-under-test"),
        subscriptions=["test/#"],
        on_message=on_message or recorder.on_message,
        on_connect=recorder.on_connect,
        while_connected=while_connected,
        on_disconnect=recorder.on_disconnect,
        on_error=recorder.on_error,
        backoff=backoff,
    )


@asynccontextmanager
async def _running(session: MqttSession) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(session.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _publish(port: int, topic: str, payload: bytes) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="publisher") as client:
        await client.publish(topic, payload, qos=1)


async def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polls plain counters, no event to wait on
            await asyncio.sleep(0.02)


def _waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The wait each logged failed attempt announced, in order."""
    return [
        float(record.args[-1])  # type: ignore[index,arg-type]  # (where, error, delay)
        for record in caplog.records
        if record.name == LOGGER and "in %.1f s" in record.msg
    ]


async def test_subscribes_and_hands_over_messages(mosquitto: MosquittoBroker) -> None:
    recorder = Recorder()
    session = _session(mosquitto.port, recorder)
    assert (session.connected, session.client) == (False, None)
    async with _running(session):
        assert await session.wait_connected(10)
        assert isinstance(session.client, aiomqtt.Client)
        assert recorder.connects == 1
        await _publish(mosquitto.port, "test/one", b"hello")
        await _until(lambda: bool(recorder.messages))
        assert recorder.messages == [("test/one", b"hello")]
    assert not session.connected
    assert recorder.disconnects == 1
    assert recorder.errors == []


async def test_a_failing_handler_is_logged_and_the_session_goes_on(
    mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()

    async def fragile(topic: str, payload: bytes) -> None:
        if payload == b"bad":
            raise ValueError("cannot handle this")
        await recorder.on_message(topic, payload)

    session = _session(mosquitto.port, recorder, on_message=fragile)
    async with _running(session):
        assert await session.wait_connected(10)
        await _publish(mosquitto.port, "test/x", b"bad")
        await _publish(mosquitto.port, "test/x", b"good")
        await _until(lambda: bool(recorder.messages))
    assert recorder.messages == [("test/x", b"good")]
    assert recorder.connects == 1
    failed = [r for r in caplog.records if "handling a message on" in r.getMessage()]
    assert len(failed) == 1
    assert failed[0].exc_info is not None


async def test_reconnects_after_a_broker_restart(
    mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """Subscriptions come back, the hook runs again, the outage is logged once."""
    recorder = Recorder()
    # A clean session: the broker forgets the subscription, the session makes it again.
    session = _session(mosquitto.port, recorder)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with _running(session):
        assert await session.wait_connected(10)
        await asyncio.to_thread(mosquitto.stop)
        await _until(lambda: not session.connected)
        await _until(lambda: len(recorder.errors) >= 4)  # some attempts while down
        mosquitto.start()
        assert await session.wait_connected(10)
        assert recorder.connects == 2
        assert recorder.disconnects == 1
        assert session.last_error is None
        await _publish(mosquitto.port, "test/after", b"again")
        await _until(lambda: bool(recorder.messages))
        assert recorder.messages == [("test/after", b"again")]
    warnings = [
        r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING
    ]
    assert [r.getMessage().split(" (")[0] for r in warnings] == [
        f"lost the connection to MQTT broker 127.0.0.1:{mosquitto.port}"
    ]
    connected = [r for r in caplog.records if r.getMessage().startswith("connected to")]
    assert len(connected) == 2


def test_backoff_doubles_up_to_its_bound() -> None:
    backoff = Backoff(0.5, 30.0)
    waits = [backoff.first_s]
    for _ in range(8):
        waits.append(backoff.after(waits[-1]))
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    with pytest.raises(ValueError, match="first_s <= max_s"):
        Backoff(2.0, 1.0)
    with pytest.raises(ValueError, match="0 < first_s"):
        Backoff(0.0, 1.0)


def test_backoff_waits_are_spread_so_homes_do_not_return_at_once() -> None:
    backoff = Backoff(1.0, 30.0, jitter=0.2)
    waits = [backoff.jittered(10.0) for _ in range(200)]
    assert all(8.0 <= wait <= 10.0 for wait in waits)
    assert max(waits) - min(waits) > 1.0  # spread, not one instant
    assert Backoff(1.0, 30.0, jitter=0.0).jittered(10.0) == 10.0
    with pytest.raises(ValueError, match="jitter"):
        Backoff(1.0, 30.0, jitter=1.0)


async def test_waits_grow_and_are_bounded_while_the_broker_is_away(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    session = _session(find_free_port(), recorder, backoff=Backoff(0.01, 0.04))
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with _running(session):
        await _until(lambda: len(recorder.errors) >= 6)
    assert _waits(caplog)[:6] == [0.01, 0.02, 0.04, 0.04, 0.04, 0.04]
    # One warning for the whole outage, the later attempts in the debug log.
    levels = [r.levelno for r in caplog.records if r.name == LOGGER]
    assert levels[0] == logging.WARNING
    assert set(levels[1:]) == {logging.DEBUG}
    assert not session.connected
    assert session.last_error is not None


async def test_backoff_starts_over_only_after_a_connection_that_lasted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = MosquittoBroker()  # not started yet: the first attempts fail
    recorder = Recorder()
    session = _session(broker.port, recorder, backoff=Backoff(0.05, 0.4))
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    try:
        async with _running(session):
            await _until(lambda: len(recorder.errors) >= 5)  # waits reached 0.4 s
            broker.start()
            assert await session.wait_connected(10)
            # Dropped at once: the doubling goes on from where it was.
            await asyncio.to_thread(broker.stop)
            await _until(lambda: recorder.disconnects == 1)
            assert _waits(caplog)[-1] == 0.4
            broker.start()
            assert await session.wait_connected(10)
            await asyncio.sleep(0.5)  # longer than Backoff.max_s
            await asyncio.to_thread(broker.stop)
            await _until(lambda: recorder.disconnects == 2)
            assert _waits(caplog)[-1] == 0.05
    finally:
        broker.cleanup()


async def test_cancelling_stops_the_session_and_leaves_no_task(
    mosquitto: MosquittoBroker,
) -> None:
    before = asyncio.all_tasks()
    recorder = Recorder()
    work_cancelled = asyncio.Event()

    async def keep_busy(client: aiomqtt.Client) -> None:
        assert client is session.client
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            work_cancelled.set()
            raise

    session = _session(mosquitto.port, recorder, while_connected=keep_busy)
    task = asyncio.create_task(session.run())
    assert await session.wait_connected(10)
    await asyncio.sleep(0.1)  # the connection's work is running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert work_cancelled.is_set()
    assert not session.connected
    assert recorder.disconnects == 1
    await _until(lambda: asyncio.all_tasks() <= before, timeout_s=2)


async def test_cancelling_while_backing_off_stops_at_once() -> None:
    recorder = Recorder()
    session = _session(find_free_port(), recorder, backoff=Backoff(30.0, 30.0))
    task = asyncio.create_task(session.run())
    await _until(lambda: bool(recorder.errors))  # now waiting 30 s
    task.cancel()
    async with asyncio.timeout(1):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert recorder.disconnects == 0


async def test_bad_credentials_are_an_error_in_the_log_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    passwords = tmp_path / "passwords"
    set_user(passwords, "home", "the-right-password-0123456789")
    password = "a-wrong-password-0123456789"

    async def settings() -> ClientSettings:
        return ClientSettings(
            host="127.0.0.1", port=broker.port, username="home", password=password
        )

    recorder = Recorder()
    with MosquittoBroker(
        allow_anonymous=False, extra_config=f"password_file {passwords}"
    ) as broker:
        session = MqttSession(
            settings,
            on_message=recorder.on_message,
            on_error=recorder.on_error,
            backoff=FAST,
        )
        async with _running(session):
            await _until(lambda: len(recorder.errors) >= 3)
            assert not session.connected
            errors = [
                r
                for r in caplog.records
                if r.name == LOGGER and r.levelno == logging.ERROR
            ]
            assert len(errors) == 1  # once for the outage, not per attempt
            text = errors[0].getMessage()
            assert f"MQTT broker 127.0.0.1:{broker.port} refused the connection" in text
            assert "check the user name, password and client id" in text
            assert session.last_error is not None
            # It kept trying: the right password is taken at the next attempt.
            password = "the-right-password-0123456789"
            assert await session.wait_connected(10)


async def test_after_a_session_that_lasted_the_first_retry_is_quick() -> None:
    """Measured, not logged: a broker killed after a long session is back in one short wait.

    Without the reset the doubling would have reached its bound while the
    broker was first away, and the session would sleep all of it (#18).
    """
    broker = MosquittoBroker()  # not started yet: the waits grow to their bound
    recorder = Recorder()
    backoff = Backoff(0.1, 3.0)
    session = _session(broker.port, recorder, backoff=backoff)
    try:
        async with _running(session):
            await _until(lambda: len(recorder.errors) >= 6)  # 0.1 ... 3.0 s
            broker.start()
            assert await session.wait_connected(10)
            await asyncio.sleep(backoff.max_s + 0.2)  # up longer than max_s
            await asyncio.to_thread(broker.kill)
            await _until(lambda: recorder.disconnects == 1)
            await asyncio.to_thread(broker.start)
            loop = asyncio.get_running_loop()
            back_at = loop.time()
            assert await session.wait_connected(10)
            took = loop.time() - back_at
    finally:
        broker.cleanup()
    assert took < 1.0, f"reconnected {took:.2f} s after the broker was back"


async def test_a_connection_lost_before_the_message_loop_leaves_no_unread_error(
    mosquitto: MosquittoBroker,
) -> None:
    """The broker goes while the on-connect hook waits for a publish's ack.

    aiomqtt keeps the reason of the lost connection in a future that only its
    message loop reads; left unread, asyncio prints "Future exception was never
    retrieved" with a traceback when the client is collected (seen in the demo
    with amqtt dropping a client).
    """
    recorder = Recorder()
    connected = asyncio.Event()
    frozen = asyncio.Event()

    async def publishing_hook() -> None:
        recorder.connects += 1
        if recorder.connects == 1:
            assert session.client is not None
            connected.set()
            await frozen.wait()
            # What the home controller's hook does: publish its status, QoS 1.
            await session.client.publish("test/status", b"online", qos=1)

    session = MqttSession(
        ClientSettings(
            host="127.0.0.1",
            port=mosquitto.port,
            client_id="publishing-hook",
            timeout_s=1.0,
        ),
        subscriptions=["test/#"],
        on_message=recorder.on_message,
        on_connect=publishing_hook,
        on_error=recorder.on_error,
        backoff=FAST,
    )
    unread: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: unread.append(context["message"]))
    async with _running(session):
        await asyncio.wait_for(connected.wait(), 10)
        # Frozen, the broker takes the publish and answers nothing; then it dies.
        mosquitto.freeze()
        frozen.set()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(mosquitto.kill)
        await _until(lambda: bool(recorder.errors))
        mosquitto.start()
        await _until(lambda: recorder.connects >= 2)
    # The failed attempts' tracebacks hold the old client: let it go, then collect.
    recorder.errors.clear()
    gc.collect()
    await asyncio.sleep(0)
    assert unread == []


async def test_a_reconnect_asked_in_a_handler_moves_to_the_settings_broker(
    mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """A broker move: the handler points the settings elsewhere and asks to reconnect."""
    recorder = Recorder()
    caplog.set_level(logging.INFO, logger=LOGGER)
    with MosquittoBroker() as other:
        where = {"port": mosquitto.port}

        async def settings() -> ClientSettings:
            return ClientSettings(
                host="127.0.0.1", port=where["port"], client_id="mover"
            )

        async def on_message(topic: str, payload: bytes) -> None:
            await recorder.on_message(topic, payload)
            if payload == b"move":
                where["port"] = other.port
                session.reconnect()

        session = MqttSession(
            settings,
            subscriptions=["test/#"],
            on_message=on_message,
            on_connect=recorder.on_connect,
            on_disconnect=recorder.on_disconnect,
            on_error=recorder.on_error,
            backoff=Backoff(5.0, 10.0),  # a move must not wait for the backoff
        )
        async with _running(session):
            assert await session.wait_connected(10)
            await _publish(mosquitto.port, "test/a", b"move")
            await _until(lambda: recorder.connects == 2)
            assert session.connected
            await _publish(other.port, "test/b", b"there")
            await _until(lambda: len(recorder.messages) == 2)
        assert recorder.messages == [("test/a", b"move"), ("test/b", b"there")]
        assert recorder.disconnects == 2  # the move, then the end of the test
        assert recorder.errors == []  # a move is not a failed attempt
    left = [r for r in caplog.records if r.getMessage().startswith("left ")]
    assert len(left) == 1
