"""The aggregator: the congestion service provider (pure domain + adapters)."""
