r"""Where a product's state lives, and whether a feedback can be counted where it was scored.

The product detector's state is in tables co-partitioned with the pipeline's keyed topics:
``<brand>|<sku>`` (and every ``<brand>|<sku>\x1f...`` key) is on the partition the Kafka
client's default partitioner picks for ``<brand>|<sku>``. Faust assigns partition N of every
topic with the same partition count to the same worker, so a raw record on partition N of a
raw topic with the settings' partition count is read by the worker that owns table
partition N. If its product's key maps to N too (the producer keyed the record by
``brand|sku``), the worker that scored it holds its product's state and counts it there;
any other feedback moves to its product's partition on the repartition topic first.

The rule depends on the record alone (topic, partition, product), never on the current
assignment: a product's feedback from one raw partition is thus always counted on the same
path, in the raw partition's offset order, which the detector's replay check relies on.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2

__all__ = ["KEY_SEPARATOR", "counted_at_source", "partition_of", "product_key"]

#: Separates the product (the partitioning part of a table key) from the rest.
KEY_SEPARATOR = b"\x1f"


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of ``key``'s partition part, as the default partitioner picks it."""
    hashed: int = murmur2(key.split(KEY_SEPARATOR, 1)[0])
    return (hashed & 0x7FFFFFFF) % partitions


def product_key(brand: str, sku: str) -> bytes:
    """The record key of a product's feedback: ``brand|sku`` in UTF-8."""
    return f"{brand}|{sku}".encode()


def counted_at_source(key: bytes, raw_partition: int, raw_partitions: int | None, partitions: int) -> bool:
    """Whether a feedback with product ``key``, read from ``raw_partition`` of a raw topic of
    ``raw_partitions`` partitions (None: unknown), can be counted by the worker that read it,
    with ``partitions`` the tables' (the settings') partition count."""
    return raw_partitions == partitions and partition_of(key, partitions) == raw_partition
