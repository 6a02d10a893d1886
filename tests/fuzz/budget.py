"""How many inputs each fuzz test tries: a fixed budget in CI, a long one on request.

``DACS_FUZZ=long`` selects the long profile (10,000 inputs per test);
``DACS_FUZZ_EXAMPLES=<n>`` sets the number of inputs of either profile.
Only the fuzz tests use these settings (the rest of the suite keeps
hypothesis's defaults), so a long run changes nothing else.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 150
LONG_EXAMPLES = 10_000

# Big inputs are the point; a fixture shared by the examples of one test
# (a running server) is reset by each example itself.
_SUPPRESSED = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    HealthCheck.filter_too_much,
]

settings.register_profile(
    "fuzz-ci",
    max_examples=CI_EXAMPLES,
    deadline=None,
    suppress_health_check=_SUPPRESSED,
    print_blob=True,
)
settings.register_profile(
    "fuzz-long",
    max_examples=LONG_EXAMPLES,
    deadline=None,
    suppress_health_check=_SUPPRESSED,
    print_blob=True,
)

PROFILE = "fuzz-long" if os.environ.get("DACS_FUZZ") == "long" else "fuzz-ci"


def budget(*, ci: int = CI_EXAMPLES, long: int = LONG_EXAMPLES) -> settings:
    """The selected profile with ``ci`` or ``long`` inputs per test.

    A test whose every input is slow (an HTTP request, an MQTT round trip)
    asks for fewer; every decoder gets the defaults.
    """
    examples = os.environ.get("DACS_FUZZ_EXAMPLES")
    count = int(examples) if examples else long if PROFILE == "fuzz-long" else ci
    return settings(settings.get_profile(PROFILE), max_examples=count)
