-- 0003: actions taken on a problem (issue #4's closed loop), from {ns}.actions.
CREATE TABLE IF NOT EXISTS actions (
    action_id             String,
    brand                 String,
    product               String,
    aspect                String,
    taken_at              DateTime,
    description           String,
    actor                 String,
    target_negative_share Nullable(Float64),
    kafka_topic           String,
    kafka_partition       UInt32,
    kafka_offset          UInt64,
    stored_at_ms          UInt64
) ENGINE = ReplacingMergeTree(stored_at_ms)
PARTITION BY toYYYYMM(taken_at)
ORDER BY action_id;
