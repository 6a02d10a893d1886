"""The aggregator's HTTP API: enrollment, operations, dashboard."""
