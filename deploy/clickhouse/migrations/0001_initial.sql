-- 0001: facts, aspect mentions and alerts (issue #2).
-- Runs on ClickHouse 18.16 and current releases: no LowCardinality, TTL or DateTime64.
-- ReplacingMergeTree on the natural key: a replay after a crash collapses on merge; read with
-- FINAL (or uniqExact(feedback_id)) where exact counts matter before a merge.

CREATE TABLE IF NOT EXISTS feedback (
    feedback_id      String,
    source           String,
    channel          String,
    brand            String,
    product_sku      String,
    product_name     String,
    variant          String,
    customer_ref     String,
    store_id         String,
    agent_id         String,
    event_time       DateTime,
    text             String,
    polarity         Int8,
    score            Float32,
    rating           Nullable(UInt8),
    nps              Nullable(UInt8),
    aspect_count     UInt16,
    taxonomy_version String,
    model_version    String,
    origin_topic     String,
    origin_partition UInt32,
    origin_offset    UInt64,
    produced_at_ms   UInt64,
    kafka_topic      String,
    kafka_partition  UInt32,
    kafka_offset     UInt64,
    stored_at_ms     UInt64
) ENGINE = ReplacingMergeTree(stored_at_ms)
PARTITION BY toYYYYMM(event_time)
ORDER BY (brand, product_sku, event_time, feedback_id);

CREATE TABLE IF NOT EXISTS aspect_mentions (
    feedback_id      String,
    source           String,
    channel          String,
    brand            String,
    product_sku      String,
    variant          String,
    event_time       DateTime,
    aspect           String,
    aspect_l1        String,
    aspect_l2        String,
    polarity         Int8,
    score            Float32,
    opinion_words    Array(String),
    evidence         String,
    taxonomy_version String,
    kafka_topic      String,
    kafka_partition  UInt32,
    kafka_offset     UInt64,
    stored_at_ms     UInt64
) ENGINE = ReplacingMergeTree(stored_at_ms)
PARTITION BY toYYYYMM(event_time)
ORDER BY (brand, product_sku, aspect, event_time, feedback_id);

CREATE TABLE IF NOT EXISTS alerts (
    alert_id            String,
    kind                String,
    rule                String,
    severity            String,
    brand               String,
    product             String,
    aspect              String,
    metric              String,
    observed            Float64,
    expected            Nullable(Float64),
    band_low            Nullable(Float64),
    band_high           Nullable(Float64),
    mentions            UInt32,
    window_start        DateTime,
    window_end          DateTime,
    sample_feedback_ids Array(String),
    created_at          DateTime,
    routing_key         String,
    kafka_topic         String,
    kafka_partition     UInt32,
    kafka_offset        UInt64,
    stored_at_ms        UInt64
) ENGINE = ReplacingMergeTree(stored_at_ms)
PARTITION BY toYYYYMM(window_start)
ORDER BY alert_id;
