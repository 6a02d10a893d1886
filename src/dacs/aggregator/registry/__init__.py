"""The registry: congestion points, homes and enrollment codes."""
