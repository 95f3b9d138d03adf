"""Where feedback is counted: at the source when its raw record is on its product's
partition, else after a move; and the producer key that makes the first the rule."""

from __future__ import annotations

import os
import time

import orjson
from aiokafka import ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner

from pipeline.ops.kafka_io import PRODUCT_KEY, key_of
from pipeline.placement import counted_at_source, partition_of, product_key
from pipeline.tools.bench import synthetic_reviews
from pipeline.tools.bench_floor import floor_columns
from pipeline.tools.proc_cpu import CpuMeter, cpu_seconds, find_pids

PARTITIONS = 4


def test_a_review_keyed_by_product_is_counted_on_the_partition_the_producer_picks() -> None:
    partitioner = DefaultPartitioner()
    partitions = list(range(PARTITIONS))
    for line in synthetic_reviews(300, "K"):
        key = key_of(line, PRODUCT_KEY)
        review = orjson.loads(line)
        assert key == product_key(review["brand"], review["product"]["sku"])
        raw_partition = partitioner(key, partitions, partitions)
        assert counted_at_source(key, raw_partition, PARTITIONS, PARTITIONS)
        others = [p for p in partitions if p != raw_partition]
        assert not any(counted_at_source(key, p, PARTITIONS, PARTITIONS) for p in others)


def test_a_raw_topic_with_another_partition_count_moves_everything() -> None:
    # Partition N of a topic with another count is not co-partitioned with table partition N.
    key = product_key("云杉", "S1")
    home = partition_of(key, PARTITIONS)
    assert not counted_at_source(key, home, 8, PARTITIONS)
    assert not counted_at_source(key, home, None, PARTITIONS)  # no assignment yet


def test_key_of_joins_top_level_and_dotted_fields() -> None:
    line = orjson.dumps({"brand": "云杉", "product": {"sku": "S1"}, "review_id": 7})
    assert key_of(line, "review_id") == b"7"
    assert key_of(line, "product.sku") == b"S1"
    assert key_of(line, PRODUCT_KEY) == "云杉|S1".encode()
    assert key_of(line, "brand|product.name") is None  # a part is missing
    assert key_of(b"not json", PRODUCT_KEY) is None
    assert key_of(b"[1, 2]", "brand") is None
    assert key_of(line, None) is None


def test_cpu_seconds_of_this_process_grow_with_work() -> None:
    meter = CpuMeter({"me": [os.getpid()], "gone": []})
    meter.start()
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    meter.stop()
    seconds = meter.seconds()
    assert set(seconds) == {"me"}  # a group without processes is not measured
    assert 0.1 <= seconds["me"] <= 2.0
    assert meter.per_item_us(1000)["me"] == round(seconds["me"] * 1000, 1)
    assert cpu_seconds(2**22 + 12345) is None  # no such process
    assert os.getpid() in find_pids(lambda argv: "pytest" in " ".join(argv))


def test_the_floor_stores_the_raw_fields_of_each_review() -> None:
    lines = synthetic_reviews(3, "F")
    records = [
        ConsumerRecord("t", 1, 10 + i, 1_700_000_000_000 + i, 0, None, line, None, 0, len(line), [])
        for i, line in enumerate(lines)
    ]
    columns = floor_columns(records, stored_at_ms=5)
    first = orjson.loads(lines[0])
    assert columns["feedback_id"] == [f"review:tmall:F{i}" for i in range(3)]
    assert columns["brand"][0] == first["brand"] and columns["text"][0] == first["text"]
    assert columns["kafka_offset"] == [10, 11, 12] and columns["stored_at_ms"] == [5, 5, 5]
    assert len({len(values) for values in columns.values()}) == 1
