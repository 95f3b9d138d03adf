r"""A Faust table whose keys share a partition: ``<partition key>\x1f<rest>`` goes where
``<partition key>`` alone goes.

The product detector keeps more than one key per product (its windows, and its fingerprints,
pipeline.detection.dedup). A worker that takes over a partition of ``feedback.scored`` recovers the same
partition of each table's changelog, so every key of a product must be on the partition of
the product's feedback. Faust's ``use_partitioner`` hashes the whole key; this table hashes
the part before the separator with the Kafka client's default partitioner (murmur2, as the
producer of ``feedback.scored`` does), and a key without a separator exactly as before.
"""

from __future__ import annotations

from typing import Any

import faust

from pipeline.placement import partition_of

__all__ = ["CoPartitionedTable", "partition_of"]


class CoPartitionedTable(faust.Table[Any, Any]):
    r"""A Faust table partitioned by the part of each bytes key before ``\x1f``."""

    def partition_for_key(self, key: Any) -> int | None:
        """The changelog partition of ``key`` (see :func:`partition_of`)."""
        return partition_of(bytes(key), int(self.partitions or 1))
