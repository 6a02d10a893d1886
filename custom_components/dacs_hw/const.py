"""Constants for the DACS-HW integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

from dacs.protocol import rules

DOMAIN: Final = "dacs_hw"
LOGGER = logging.getLogger(__package__)

# Config entry data.
CONF_DEVICE_ID: Final = "device_id"
# An S2 heat pump (EN 50491-12-2): it dials the home controller, the CEM.
CONF_KIND: Final = "kind"
KIND_S2: Final = "s2"
CONF_S2_CONTROL: Final = "s2_control"
DEFAULT_S2_PORT: Final = 8765
DEFAULT_S2_LISTEN: Final = "0.0.0.0"  # noqa: S104 - the device dials in from the LAN
# How long setup waits for the S2 device to dial in and describe itself.
S2_PAIR_TIMEOUT_S: Final = 30.0
CONF_PROFILE: Final = "profile"
CONF_BROKER: Final = "broker"
CONF_HOME_ID: Final = "home_id"
CONF_TOPIC_PREFIX: Final = "topic_prefix"
CONF_ENTRY: Final = "entry"

# Config entry options.
CONF_TELEMETRY_INTERVAL: Final = "telemetry_interval"
CONF_COMFORT_FLOOR: Final = "comfort_floor"
CONF_PARTICIPATION_DEFAULT: Final = "participation_default"

DEFAULT_MODBUS_PORT: Final = 502
DEFAULT_DEVICE_ID: Final = 1
DEFAULT_BROKER_PORT: Final = 1883
DEFAULT_TELEMETRY_INTERVAL_S: Final = 10.0
DEFAULT_COMFORT_FLOOR_C: Final = rules.DEFAULT_COMFORT_FLOOR_C
DEFAULT_PARTICIPATION: Final = True
MIN_TELEMETRY_INTERVAL_S: Final = 5
MAX_TELEMETRY_INTERVAL_S: Final = 300

# The protocol's topics are fixed to this prefix (docs/protocol.md, section 2).
TOPIC_PREFIX: Final = "dacs/v1"

# How long one Modbus request may take before the heat pump counts as gone.
DEVICE_TIMEOUT_S: Final = 5.0
# Home Assistant reads the heat pump this often at most; a shorter telemetry
# interval reads it more often.
POLL_INTERVAL_S: Final = 5.0
# The home controller's arbitration tick: pauses ending, envelope steps,
# expiry. One second keeps the protocol's timing promises.
CONTROL_INTERVAL_S: Final = 1.0
# How long the config flow waits for the broker to accept a login.
BROKER_CHECK_TIMEOUT_S: Final = 10.0

# Repairs: how long a condition lasts before a repair issue is raised.
LIMIT_NOT_FOLLOWED_AFTER: Final = timedelta(minutes=10)
AGGREGATOR_LOST_AFTER: Final = timedelta(minutes=30)

ISSUE_LIMIT_NOT_FOLLOWED: Final = "limit_not_followed"
ISSUE_AGGREGATOR_LOST: Final = "aggregator_lost"
ISSUE_NO_POWER_LIMIT: Final = "no_power_limit"

# Home Assistant bus events, fired as flexibility events start and end.
EVENT_FLEX_EVENT_STARTED: Final = f"{DOMAIN}_flex_event_started"
EVENT_FLEX_EVENT_ENDED: Final = f"{DOMAIN}_flex_event_ended"

SERVICE_PAUSE_PARTICIPATION: Final = "pause_participation"
SERVICE_RESUME_PARTICIPATION: Final = "resume_participation"
ATTR_DURATION: Final = "duration"

STORAGE_VERSION: Final = 1
