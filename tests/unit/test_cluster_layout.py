"""The migrations rewritten for a ClickHouse cluster (sinks.cluster_layout): every shipped
statement has a cluster form, tables become replicated _local ones with Distributed ones of
the same name over them, views read the right layer. The real cluster run is
tests/integration/test_clickhouse_cluster.py."""

import pytest

from config import Settings
from sinks.cluster_layout import ClusterLayout
from sinks.migrations import read_migrations


def _rewritten() -> list[str]:
    layout = ClusterLayout("voc", "voc")
    return [
        r for m in read_migrations(Settings().migrations_dir) for s in m.statements for r in layout.rewrite(s)
    ]


def test_every_shipped_migration_has_a_cluster_form_on_every_host() -> None:
    statements = _rewritten()
    ddl = [s for s in statements if not s.startswith("INSERT")]
    assert all("ON CLUSTER `voc`" in s for s in ddl)
    # Backfills run once, through the distributed tables, not once per host.
    assert all("ON CLUSTER" not in s for s in statements if s.startswith("INSERT"))


def test_a_table_becomes_a_replicated_local_table_and_a_distributed_one() -> None:
    layout = ClusterLayout("voc", "voc_prod")
    local, distributed = layout.rewrite(
        "CREATE TABLE IF NOT EXISTS alerts (alert_id String, stored_at_ms UInt64) "
        "ENGINE = ReplacingMergeTree(stored_at_ms) PARTITION BY tuple() ORDER BY alert_id"
    )
    assert local.startswith(
        "CREATE TABLE IF NOT EXISTS `voc_prod`.alerts_local ON CLUSTER `voc` (alert_id String"
    )
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/voc_prod/alerts_local', "
        "'{replica}', stored_at_ms) PARTITION BY tuple() ORDER BY alert_id" in local
    )
    # Sharded by the sorting key, so the rows a ReplacingMergeTree collapses meet on one shard.
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS `voc_prod`.alerts ON CLUSTER `voc` AS `voc_prod`.alerts_local "
        "ENGINE = Distributed(`voc`, `voc_prod`, alerts_local, cityHash64(alert_id))"
    )


def test_engine_arguments_with_parentheses_and_none_are_kept() -> None:
    layout = ClusterLayout("c", "d")
    (summing, _) = layout.rewrite(
        "CREATE TABLE IF NOT EXISTS r (a String, n UInt64) ENGINE = SummingMergeTree((n)) ORDER BY (a)"
    )
    assert (
        "ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/d/r_local', '{replica}', (n)) ORDER BY (a)"
        in summing
    )
    (plain, _) = layout.rewrite("CREATE TABLE IF NOT EXISTS p (a String) ENGINE = MergeTree ORDER BY a")
    assert plain.endswith(
        "ReplicatedMergeTree('/clickhouse/tables/{shard}/d/p_local', '{replica}') ORDER BY a"
    )


def test_materialized_views_fire_on_local_inserts_and_plain_views_read_everything() -> None:
    layout = ClusterLayout("c", "d")
    layout.rewrite("CREATE TABLE IF NOT EXISTS facts (a String) ENGINE = MergeTree ORDER BY a")
    layout.rewrite("CREATE TABLE IF NOT EXISTS rollup (a String) ENGINE = MergeTree ORDER BY a")
    (view,) = layout.rewrite(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_mv TO rollup AS SELECT a FROM facts"
    )
    assert view == (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS `d`.rollup_mv ON CLUSTER `c` TO `d`.rollup_local "
        "AS SELECT a FROM `d`.facts_local"
    )
    (plain,) = layout.rewrite("CREATE VIEW IF NOT EXISTS v AS SELECT a FROM rollup")
    assert plain == "CREATE VIEW IF NOT EXISTS `d`.v ON CLUSTER `c` AS SELECT a FROM `d`.rollup"
    assert layout.rewrite("ALTER TABLE facts ADD COLUMN b String") == [
        "ALTER TABLE `d`.facts_local ON CLUSTER `c` ADD COLUMN b String",
        # The Distributed table holds no rows: rebuilt over the altered local table.
        "DROP TABLE IF EXISTS `d`.facts ON CLUSTER `c`",
        "CREATE TABLE IF NOT EXISTS `d`.facts ON CLUSTER `c` AS `d`.facts_local "
        "ENGINE = Distributed(`c`, `d`, facts_local, cityHash64(a))",
    ]
    assert layout.mutation("ALTER TABLE facts DELETE WHERE a = 'x'") == (
        "ALTER TABLE `d`.facts_local ON CLUSTER `c` DELETE WHERE a = 'x'"
    )


def test_a_statement_without_a_cluster_form_is_refused() -> None:
    layout = ClusterLayout("c", "d")
    with pytest.raises(ValueError, match="no cluster form"):
        layout.rewrite("DROP TABLE feedback")
    with pytest.raises(ValueError, match="which no migration created"):
        layout.rewrite("CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO nowhere AS SELECT 1")
