"""The fingerprint store (pipeline.detection.dedup) and the co-partitioned table's partitioner."""

from aiokafka.partitioner import DefaultPartitioner

from pipeline.detection.dedup import FingerprintStore
from pipeline.runtime.faust_tables import partition_of

HOUR = 3600
P = "云杉|P1".encode()


def test_a_batch_writes_only_what_it_added() -> None:
    table: dict[bytes, object] = {}
    store = FingerprintStore(table, HOUR)
    store.add(P, {"a": 1000.0, "b": 1001.0}, watermark=1001.0)
    first = dict(table)
    store.add(P, {"c": 1002.0}, watermark=1002.0)
    new = {k: v for k, v in table.items() if k not in first or first[k] != v}
    # One new entry with the one fingerprint, and the catalog's count.
    assert sorted(new.values(), key=str) == [{"600": 2}, {"c": 1002.0}]
    assert store.last_counted(P, "a") == 1000.0 and store.last_counted(P, "zz") is None


def test_a_new_store_over_the_same_table_reads_what_was_counted() -> None:
    # A worker that recovers the table from its changelog starts with an empty index.
    table: dict[bytes, object] = {}
    FingerprintStore(table, HOUR).add(P, {"a": 5000.0}, watermark=5000.0)
    FingerprintStore(table, HOUR).add(P, {"a": 5100.0}, watermark=5100.0)
    recovered = FingerprintStore(table, HOUR)
    assert recovered.last_counted(P, "a") == 5100.0
    assert recovered.last_counted("云杉|P2".encode(), "a") is None


def test_buckets_a_horizon_behind_the_watermark_are_deleted() -> None:
    table: dict[bytes, object] = {}
    store = FingerprintStore(table, HOUR)
    for hour in range(10):  # one feedback an hour, for ten hours of event time
        t = hour * HOUR + 1.0
        store.add(P, {f"f{hour}": t}, watermark=t)
    # Live: the buckets (10 minutes wide) that end less than an hour before the watermark.
    assert store.last_counted(P, "f9") is not None and store.last_counted(P, "f8") is not None
    assert store.last_counted(P, "f7") is None
    entries = [k for k in table if k.count(b"\x1f") == 3]
    assert len(entries) == 2 and len(table) == 3  # two entries and the catalog
    assert FingerprintStore(table, HOUR).last_counted(P, "f7") is None


def test_every_key_of_a_product_is_on_the_product_partition() -> None:
    partitioner = DefaultPartitioner()
    for i in range(200):
        product = f"brand{i}|sku{i % 7}".encode()
        expected = partitioner(product, list(range(12)), list(range(12)))
        assert partition_of(product, 12) == expected
        assert partition_of(product + b"\x1fdedup\x1f600\x1f3", 12) == expected
