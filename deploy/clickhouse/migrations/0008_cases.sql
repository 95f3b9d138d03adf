-- 0008: cases (issue #17). Every critical feedback alert opens a case; the stream publishes
-- the case's whole state on {ns}.cases after each change, and the sink stores each event in
-- case_events (the full history: one row per case and version). `cases` holds each case's
-- latest version (a view fills it; read it with FINAL or argMax by version). Times are when
-- the pipeline or a service acted, except first_complaint_at and last_complaint_at, the
-- times of the customer's feedback.

CREATE TABLE IF NOT EXISTS case_events (
    case_id           String,
    version           UInt32,
    change            String,
    brand             String,
    product           String,
    customer_ref      String,
    route             String,
    severity          String,
    reason            String,
    alert_ids         Array(String),
    feedback_ids      Array(String),
    verbatims         Array(String),
    complaints        UInt32,
    first_complaint_at DateTime,
    last_complaint_at DateTime,
    status            String,
    opened_at         DateTime,
    sla_due_at        DateTime,
    acknowledged_at   Nullable(DateTime),
    first_response_at Nullable(DateTime),
    resolved_at       Nullable(DateTime),
    outcome           String,
    sla_breached      UInt8,
    reopen_count      UInt32,
    updated_at        DateTime,
    updated_by        String,
    note              String,
    kafka_topic       String,
    kafka_partition   UInt32,
    kafka_offset      UInt64,
    stored_at_ms      UInt64
) ENGINE = ReplacingMergeTree(stored_at_ms)
PARTITION BY toYYYYMM(opened_at)
ORDER BY (brand, case_id, version);

CREATE TABLE IF NOT EXISTS cases (
    case_id           String,
    version           UInt32,
    change            String,
    brand             String,
    product           String,
    customer_ref      String,
    route             String,
    severity          String,
    reason            String,
    alert_ids         Array(String),
    feedback_ids      Array(String),
    verbatims         Array(String),
    complaints        UInt32,
    first_complaint_at DateTime,
    last_complaint_at DateTime,
    status            String,
    opened_at         DateTime,
    sla_due_at        DateTime,
    acknowledged_at   Nullable(DateTime),
    first_response_at Nullable(DateTime),
    resolved_at       Nullable(DateTime),
    outcome           String,
    sla_breached      UInt8,
    reopen_count      UInt32,
    updated_at        DateTime
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(opened_at)
ORDER BY (brand, case_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS cases_mv TO cases AS
SELECT case_id, version, change, brand, product, customer_ref, route, severity, reason,
       alert_ids, feedback_ids, verbatims, complaints, first_complaint_at, last_complaint_at, status, opened_at,
       sla_due_at, acknowledged_at, first_response_at, resolved_at, outcome, sla_breached,
       reopen_count, updated_at
FROM case_events;

-- voc forget erases a customer's cases too, and logs how many case events it removed.
ALTER TABLE erasure_log ADD COLUMN case_rows UInt64 DEFAULT 0;
