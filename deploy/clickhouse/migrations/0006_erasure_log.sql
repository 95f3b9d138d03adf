-- 0006: the record of every erasure request `voc forget` finished (issue #13): who asked,
-- when, and how many rows of each table it erased. customer_ref is the salted hash, kept as
-- proof that the request was carried out; the log holds no text.
CREATE TABLE IF NOT EXISTS erasure_log (
    request_id    String,
    customer_ref  String,
    requested_by  String,
    requested_at  DateTime,
    completed_at  DateTime,
    feedback_rows UInt64,
    mention_rows  UInt64,
    profile_rows  UInt64,
    alert_rows    UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(requested_at)
ORDER BY (requested_at, request_id);
