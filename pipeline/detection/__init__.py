"""Anomaly detection, pure: the windows and baselines of a product or a brand (``windows``),
how each rule kind reads a window (``rules``, one class per kind), critical feedback
(``critical``), duplicate fingerprints with expiry (``dedup``), deterministic alert ids
(``alert_ids``) and the statistics the rules use (``stats``)."""
