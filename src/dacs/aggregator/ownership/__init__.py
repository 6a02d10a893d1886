"""Ownership of congestion points by aggregator instances: leases, epochs, fair shares."""
