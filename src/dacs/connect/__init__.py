"""DACS Connect: the add-on service that connects a home to the aggregator.

It enrolls the home once with a code from the energy service provider, runs
the home's Mosquitto broker with a TLS bridge that carries only this home's
topics, announces that broker to Home Assistant through the Supervisor, and
serves a status page over ingress.
"""

from .addon import AddonRuntime, AddonSettings, RetryPolicy, SupervisorSettings
from .bridge import (
    BRIDGE_CONNECTION,
    BRIDGE_STATE_TOPIC,
    HomeBrokerSettings,
    incoming_topics,
    outgoing_topics,
    render_home_broker_config,
)
from .broker_control import (
    S6_RESTART_COMMAND,
    BrokerController,
    CommandBrokerController,
    ManualBrokerController,
)
from .discovery import (
    DISCOVERY_SERVICE,
    DiscoveryInfo,
    SupervisorDiscovery,
    addon_hostname,
)
from .enrollment import EnrollmentClient, ensure_enrollment, pending_code
from .enrollment_store import StoredEnrollment, load_enrollment, save_enrollment
from .errors import (
    BrokerControlError,
    DiscoveryConnectionError,
    DiscoveryError,
    DiscoveryRejectedError,
    EnrollmentCodeExpiredError,
    EnrollmentCodeUsedError,
    EnrollmentConnectionError,
    EnrollmentError,
    EnrollmentInvalidCodeError,
    EnrollmentRateLimitedError,
    EnrollmentResponseError,
    EnrollmentServerError,
    EnrollmentSetupError,
    EnrollmentStoreError,
    EnrollmentTimeoutError,
    EnrollmentTlsError,
    EnrollmentUnknownCodeError,
    NotEnrolledError,
    OptionsError,
)
from .local_broker import LocalCredentials, PreparedBroker, prepare_home_broker
from .options import ConnectOptions, LogLevel, load_options, parse_options
from .status import StatusBoard, StatusSnapshot, UplinkState
from .status_page import create_app
from .uplink import UplinkMonitor

__all__ = [
    "BRIDGE_CONNECTION",
    "BRIDGE_STATE_TOPIC",
    "DISCOVERY_SERVICE",
    "S6_RESTART_COMMAND",
    "AddonRuntime",
    "AddonSettings",
    "BrokerControlError",
    "BrokerController",
    "CommandBrokerController",
    "ConnectOptions",
    "DiscoveryConnectionError",
    "DiscoveryError",
    "DiscoveryInfo",
    "DiscoveryRejectedError",
    "EnrollmentClient",
    "EnrollmentCodeExpiredError",
    "EnrollmentCodeUsedError",
    "EnrollmentConnectionError",
    "EnrollmentError",
    "EnrollmentInvalidCodeError",
    "EnrollmentRateLimitedError",
    "EnrollmentResponseError",
    "EnrollmentServerError",
    "EnrollmentSetupError",
    "EnrollmentStoreError",
    "EnrollmentTimeoutError",
    "EnrollmentTlsError",
    "EnrollmentUnknownCodeError",
    "HomeBrokerSettings",
    "LocalCredentials",
    "LogLevel",
    "ManualBrokerController",
    "NotEnrolledError",
    "OptionsError",
    "PreparedBroker",
    "RetryPolicy",
    "StatusBoard",
    "StatusSnapshot",
    "StoredEnrollment",
    "SupervisorDiscovery",
    "SupervisorSettings",
    "UplinkMonitor",
    "UplinkState",
    "addon_hostname",
    "create_app",
    "ensure_enrollment",
    "incoming_topics",
    "load_enrollment",
    "load_options",
    "outgoing_topics",
    "parse_options",
    "pending_code",
    "prepare_home_broker",
    "render_home_broker_config",
    "save_enrollment",
]
