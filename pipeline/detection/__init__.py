"""Anomaly detection, pure: the windows and baselines of a product or a brand and the rules
that judge them (``windows``), critical feedback (``critical``), duplicate fingerprints with
expiry (``dedup``), deterministic alert ids (``alert_ids``) and the statistics the rules use
(``stats``)."""
