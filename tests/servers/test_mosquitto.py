"""The Mosquitto fixture is a real broker: messages flow, sessions survive restarts."""

from __future__ import annotations

import queue

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import pytest

from dacs.testbed.servers import MosquittoBroker, ServiceStartError


def _client(
    broker: MosquittoBroker, client_id: str, *, clean: bool = True
) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean
    )
    client.connect(broker.host, broker.port)
    return client


def test_publish_and_receive(mosquitto: MosquittoBroker) -> None:
    """A QoS 1 message published by one client reaches a subscriber."""
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscriber = _client(mosquitto, "sub")
    subscriber.on_message = lambda _c, _u, msg: received.put(msg)
    subscriber.loop_start()
    subscribed = subscriber.subscribe("dacs/test/#", qos=1)
    assert subscribed[0] == mqtt.MQTT_ERR_SUCCESS
    publisher = _client(mosquitto, "pub")
    publisher.loop_start()
    try:
        # Retry until the subscription is active on the broker.
        for _ in range(50):
            publisher.publish("dacs/test/hello", b"hi", qos=1).wait_for_publish(2)
            try:
                message = received.get(timeout=0.1)
                break
            except queue.Empty:
                continue
        else:
            pytest.fail("no message arrived")
        assert message.topic == "dacs/test/hello"
        assert message.payload == b"hi"
    finally:
        publisher.loop_stop()
        subscriber.loop_stop()
        publisher.disconnect()
        subscriber.disconnect()


def test_persistent_session_survives_restart() -> None:
    """With persistence, a queued QoS 1 message survives a broker restart."""
    with MosquittoBroker(persistence=True) as broker:
        offline = _client(broker, "sleeper", clean=False)
        offline.loop_start()
        offline.subscribe("dacs/queue", qos=1)[1]
        offline.loop_stop()
        offline.disconnect()

        publisher = _client(broker, "pub")
        publisher.loop_start()
        publisher.publish("dacs/queue", b"kept", qos=1).wait_for_publish(2)
        publisher.loop_stop()
        publisher.disconnect()

        broker.stop()
        broker.start()

        received: queue.Queue[bytes] = queue.Queue()
        back = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="sleeper", clean_session=False
        )
        back.on_message = lambda _c, _u, msg: received.put(msg.payload)
        back.connect(broker.host, broker.port)
        back.loop_start()
        try:
            assert received.get(timeout=5) == b"kept"
        finally:
            back.loop_stop()
            back.disconnect()


def test_port_in_use_is_a_clear_error(mosquitto: MosquittoBroker) -> None:
    """Starting a second broker on a taken port fails with the broker's reason."""
    clash = MosquittoBroker(port=mosquitto.port)
    with pytest.raises(ServiceStartError, match="did not start"):
        clash.start()
    clash.cleanup()
