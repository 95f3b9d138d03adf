"""Settings and the YAML-defined taxonomy, alert rules and case rules, loaded and validated."""

from config.alert_rules import AlertRule, AlertRules, load_alert_rules
from config.case_rules import CaseRules, load_case_rules
from config.errors import ConfigError
from config.settings import REPO_ROOT, Settings
from config.taxonomy import AspectNode, Taxonomy, load_taxonomy

__all__ = [
    "REPO_ROOT",
    "AlertRule",
    "AlertRules",
    "AspectNode",
    "CaseRules",
    "ConfigError",
    "Settings",
    "Taxonomy",
    "load_alert_rules",
    "load_case_rules",
    "load_taxonomy",
]
