"""Faust agents, one module per stage. Thin: batch in, stage logic, publish, ack."""

from agents.cases import register_case_agents
from agents.detect import register_detect_agent
from agents.ingest import register_ingest_agents
from agents.store import register_store_agents

__all__ = [
    "register_case_agents",
    "register_detect_agent",
    "register_ingest_agents",
    "register_store_agents",
]
