"""Where results go: ClickHouse tables and Kafka topics (derived, alerts, dead letters)."""
