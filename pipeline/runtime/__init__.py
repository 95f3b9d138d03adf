"""The stream runtime: the Faust app and the context its agents share (settings, analyzer,
sinks, metrics), Faust fixes and tables, topic names and their creation, the partition
watchdog and the Prometheus metrics."""
