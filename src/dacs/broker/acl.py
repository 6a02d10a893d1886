"""The central broker's ACL: every home sees only its own subtree.

A home's broker user name is its home id, so one set of ``pattern`` rules
with ``%u`` covers every home: no per-home lines, nothing to edit when a home
is added. The aggregator's user may read and write the whole protocol tree,
which includes shared subscriptions (``$share/<group>/dacs/v1/...``): Mosquitto
checks those against the topic filter behind the group name.
"""

from __future__ import annotations

from dacs.protocol.topics import AGGREGATOR_TO_HOME, HOME_TO_AGGREGATOR, PREFIX, Channel

from .passwords import validate_username

DEFAULT_AGGREGATOR_USER = "dacs-aggregator"


def home_write_topics() -> tuple[str, ...]:
    """The ACL patterns a home may publish on (``%u`` is its user name)."""
    return tuple(
        f"{PREFIX}/%u/{channel.value}"
        for channel in Channel
        if channel in HOME_TO_AGGREGATOR
    )


def home_read_topics() -> tuple[str, ...]:
    """The ACL patterns a home may subscribe to (``%u`` is its user name)."""
    return tuple(
        f"{PREFIX}/%u/{channel.value}"
        for channel in Channel
        if channel in AGGREGATOR_TO_HOME
    )


def render_acl(aggregator_user: str = DEFAULT_AGGREGATOR_USER) -> str:
    """The ACL file's text for Mosquitto's ``acl_file``."""
    validate_username(aggregator_user)
    lines = [
        "# DACS-HW central broker ACL, written by 'dacs broker render-acl'.",
        "# Anything not granted here is denied: anonymous clients get nothing,",
        "# publishes on a forbidden topic are dropped and forbidden",
        "# subscriptions receive nothing.",
        "",
        "# Every home (user name == home id) publishes only its own reports ...",
        *(f"pattern write {topic}" for topic in home_write_topics()),
        "# ... and reads only what the aggregator sends to it.",
        *(f"pattern read {topic}" for topic in home_read_topics()),
        "",
        "# The aggregator reads and writes the whole protocol tree, also",
        "# through shared subscriptions ($share/<group>/dacs/v1/...).",
        f"user {aggregator_user}",
        f"topic readwrite {PREFIX}/#",
    ]
    return "\n".join(lines) + "\n"
