-- 0007: CSAT stored and rolled up (issue #17). Surveys carried CSAT only as `rating`, mixed
-- with star ratings in the rollups; now it is a column of its own, and two rollups hold the
-- answers per touchpoint (a survey's channel): responses, their sum (mean = csat_sum /
-- responses), satisfied (4-5, the usual CSAT %) and dissatisfied (1-2).
-- Upgrade order: stop the workers, migrate, start the new ones (a worker of the old version
-- writes no csat, and what it writes after the backfill never reaches the CSAT rollups). The
-- backfill reads the survey rows stored before, whose rating is their CSAT.

ALTER TABLE feedback ADD COLUMN csat Nullable(UInt8) AFTER nps;

CREATE TABLE IF NOT EXISTS csat_rollup_hour (
    period       DateTime,
    brand        String,
    product_sku  String,
    channel      String,
    source       String,
    responses    UInt64,
    csat_sum     UInt64,
    satisfied    UInt64,
    dissatisfied UInt64
) ENGINE = SummingMergeTree((responses, csat_sum, satisfied, dissatisfied))
PARTITION BY toYYYYMM(period)
ORDER BY (brand, period, product_sku, channel, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS csat_rollup_hour_mv TO csat_rollup_hour AS
SELECT
    toStartOfHour(event_time) AS period, brand, product_sku, channel, source,
    count() AS responses,
    sum(toUInt64(ifNull(csat, 0))) AS csat_sum,
    countIf(ifNull(csat, 0) >= 4) AS satisfied,
    countIf(ifNull(csat, 5) <= 2) AS dissatisfied
FROM feedback
WHERE isNotNull(csat)
GROUP BY period, brand, product_sku, channel, source;

CREATE TABLE IF NOT EXISTS csat_rollup_day (
    period       Date,
    brand        String,
    product_sku  String,
    channel      String,
    source       String,
    responses    UInt64,
    csat_sum     UInt64,
    satisfied    UInt64,
    dissatisfied UInt64
) ENGINE = SummingMergeTree((responses, csat_sum, satisfied, dissatisfied))
PARTITION BY toYYYYMM(period)
ORDER BY (brand, period, product_sku, channel, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS csat_rollup_day_mv TO csat_rollup_day AS
SELECT
    toDate(event_time) AS period, brand, product_sku, channel, source,
    count() AS responses,
    sum(toUInt64(ifNull(csat, 0))) AS csat_sum,
    countIf(ifNull(csat, 0) >= 4) AS satisfied,
    countIf(ifNull(csat, 5) <= 2) AS dissatisfied
FROM feedback
WHERE isNotNull(csat)
GROUP BY period, brand, product_sku, channel, source;

-- Backfill: survey rows stored before this migration have csat NULL (the column is new) and
-- their CSAT in rating; rows stored since have csat and are counted by the views.
INSERT INTO csat_rollup_hour
SELECT
    toStartOfHour(event_time) AS period, brand, product_sku, channel, source,
    count() AS responses,
    sum(toUInt64(ifNull(rating, 0))) AS csat_sum,
    countIf(ifNull(rating, 0) >= 4) AS satisfied,
    countIf(ifNull(rating, 5) <= 2) AS dissatisfied
FROM feedback FINAL
WHERE source = 'survey' AND isNotNull(rating) AND isNull(csat)
GROUP BY period, brand, product_sku, channel, source;

INSERT INTO csat_rollup_day
SELECT
    toDate(event_time) AS period, brand, product_sku, channel, source,
    count() AS responses,
    sum(toUInt64(ifNull(rating, 0))) AS csat_sum,
    countIf(ifNull(rating, 0) >= 4) AS satisfied,
    countIf(ifNull(rating, 5) <= 2) AS dissatisfied
FROM feedback FINAL
WHERE source = 'survey' AND isNotNull(rating) AND isNull(csat)
GROUP BY period, brand, product_sku, channel, source;
