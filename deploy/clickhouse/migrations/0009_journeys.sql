-- 0009: customer journeys (issue #17). How each chat conversation ended (its closing turn's
-- outcome, usually an agent's turn, which stores no feedback), and one view of every
-- touchpoint of a customer in time order: chat turns, reviews, survey answers (feedback),
-- chat outcomes and cases, each with its sentiment where it has one. A conversation closed
-- twice (escalated, then resolved) keeps the later turn's outcome, whatever order they came in.

CREATE TABLE IF NOT EXISTS conversations (
    conversation_id String,
    brand           String,
    product_sku     String,
    channel         String,
    customer_ref    String,
    store_id        String,
    agent_id        String,
    outcome         String,
    ended_at        DateTime,
    closing_turn    UInt32,
    kafka_topic     String,
    kafka_partition UInt32,
    kafka_offset    UInt64,
    stored_at_ms    UInt64
) ENGINE = ReplacingMergeTree(closing_turn)
PARTITION BY toYYYYMM(ended_at)
ORDER BY (brand, conversation_id);

CREATE VIEW IF NOT EXISTS customer_journey AS
SELECT brand, customer_ref, event_time AS at, source AS touchpoint, channel,
       toNullable(polarity) AS polarity, toNullable(toFloat64(score)) AS score, feedback_id AS ref,
       '' AS detail
FROM feedback FINAL
WHERE customer_ref != ''
UNION ALL
SELECT brand, customer_ref, ended_at AS at, 'chat_end' AS touchpoint, channel,
       CAST(NULL AS Nullable(Int8)) AS polarity, CAST(NULL AS Nullable(Float64)) AS score,
       conversation_id AS ref, outcome AS detail
FROM conversations FINAL
WHERE customer_ref != ''
UNION ALL
SELECT brand, customer_ref, first_complaint_at AS at, 'case' AS touchpoint, route AS channel,
       CAST(NULL AS Nullable(Int8)) AS polarity, CAST(NULL AS Nullable(Float64)) AS score,
       case_id AS ref, status AS detail
FROM cases FINAL
WHERE customer_ref != '';

ALTER TABLE erasure_log ADD COLUMN conversation_rows UInt64 DEFAULT 0;
