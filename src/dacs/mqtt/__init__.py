"""The reconnecting MQTT session the home, the aggregator and the OpenADR notifier share.

Depends on aiomqtt and the standard library only, so every shipped package
may use it.
"""

from .session import Backoff, ClientSettings, MqttSession

__all__ = ["Backoff", "ClientSettings", "MqttSession"]
