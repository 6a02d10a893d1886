"""The aggregator's MQTT adapter: shared-subscription ingest, command publishing."""
