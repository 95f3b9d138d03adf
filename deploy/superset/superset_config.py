"""Superset's configuration for the local Superset of `make bi` and the tests.

deploy/local/services.sh points SUPERSET_CONFIG_PATH here and sets the variables it reads.
Local only: its metadata lives in SQLite and its caches in memory (one process). A production
Superset keeps its own configuration (Postgres or MySQL metadata, Redis caches, a real secret);
what it needs from this project is the ClickHouse URI and the read-only user, docs/bi.md.
"""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(os.environ["SUPERSET_HOME"], "superset.db")

# The API and the login form are used by a script, not a browser session with a CSRF token.
WTF_CSRF_ENABLED = False

# Superset 6.1 refuses to start without these caches; in-memory ones suffice for one process.
_MEMORY_CACHE = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
CACHE_CONFIG = _MEMORY_CACHE
DATA_CACHE_CONFIG = _MEMORY_CACHE
FILTER_STATE_CACHE_CONFIG = _MEMORY_CACHE
EXPLORE_FORM_DATA_CACHE_CONFIG = _MEMORY_CACHE

# A chart's first query on a cold ClickHouse can take a while on a 2-core machine.
SUPERSET_WEBSERVER_TIMEOUT = 120
