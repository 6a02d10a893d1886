"""The home controller: the home's side of the protocol and safety arbitration.

Library code without Home Assistant imports; the integration wraps it, the
demo and the scenario tests run many of them.
"""

from .arbitration import Decision, Guard, decide
from .controller import FLEX_EVENT_ENDED, FLEX_EVENT_STARTED, HomeController
from .mqtt_link import BrokerSettings, MqttLink
from .resident import ResidentSettings
from .snapshot import FlexEvent, HomeSnapshot

__all__ = [
    "FLEX_EVENT_ENDED",
    "FLEX_EVENT_STARTED",
    "BrokerSettings",
    "Decision",
    "FlexEvent",
    "Guard",
    "HomeController",
    "HomeSnapshot",
    "MqttLink",
    "ResidentSettings",
    "decide",
]
