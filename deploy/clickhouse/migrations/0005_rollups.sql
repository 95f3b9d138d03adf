-- 0005: rollups for dashboards and the customer profile (issue #5).
-- Materialized views aggregate every insert into aspect_mentions and feedback, so dashboards
-- read thousands of rollup rows instead of millions of facts. Rollups count rows as stored:
-- the sinks store each feedback once, also when a stage replayed after a crash or its source
-- publishes it again (sinks/exactly_once.py); one sent again with another text, or scored by
-- another model, counts again here, while the fact tables keep its last version. Each view is created, then its
-- backfill, and the backfill reads only rows stored before the migration started.
-- SummingMergeTree sums the value columns of rows with equal keys on merge: read with sum().

CREATE TABLE IF NOT EXISTS aspect_rollup_minute (
    period      DateTime,
    brand       String,
    product_sku String,
    variant     String,
    channel     String,
    source      String,
    aspect      String,
    aspect_l1   String,
    aspect_l2   String,
    mentions    UInt64,
    positive    UInt64,
    neutral     UInt64,
    negative    UInt64,
    score_sum   Float64
) ENGINE = SummingMergeTree((mentions, positive, neutral, negative, score_sum))
PARTITION BY toYYYYMM(period)
ORDER BY (brand, period, aspect_l1, aspect_l2, aspect, product_sku, variant, channel, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS aspect_rollup_minute_mv TO aspect_rollup_minute AS
SELECT
    toStartOfMinute(event_time) AS period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2,
    count() AS mentions,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum
FROM aspect_mentions
GROUP BY period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2;

CREATE TABLE IF NOT EXISTS aspect_rollup_hour (
    period      DateTime,
    brand       String,
    product_sku String,
    variant     String,
    channel     String,
    source      String,
    aspect      String,
    aspect_l1   String,
    aspect_l2   String,
    mentions    UInt64,
    positive    UInt64,
    neutral     UInt64,
    negative    UInt64,
    score_sum   Float64
) ENGINE = SummingMergeTree((mentions, positive, neutral, negative, score_sum))
PARTITION BY toYYYYMM(period)
ORDER BY (brand, period, aspect_l1, aspect_l2, aspect, product_sku, variant, channel, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS aspect_rollup_hour_mv TO aspect_rollup_hour AS
SELECT
    toStartOfHour(event_time) AS period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2,
    count() AS mentions,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum
FROM aspect_mentions
GROUP BY period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2;

CREATE TABLE IF NOT EXISTS aspect_rollup_day (
    period      Date,
    brand       String,
    product_sku String,
    variant     String,
    channel     String,
    source      String,
    aspect      String,
    aspect_l1   String,
    aspect_l2   String,
    mentions    UInt64,
    positive    UInt64,
    neutral     UInt64,
    negative    UInt64,
    score_sum   Float64
) ENGINE = SummingMergeTree((mentions, positive, neutral, negative, score_sum))
PARTITION BY toYYYYMM(period)
ORDER BY (brand, period, aspect_l1, aspect_l2, aspect, product_sku, variant, channel, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS aspect_rollup_day_mv TO aspect_rollup_day AS
SELECT
    toDate(event_time) AS period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2,
    count() AS mentions,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum
FROM aspect_mentions
GROUP BY period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2;

CREATE TABLE IF NOT EXISTS feedback_rollup_hour (
    period      DateTime,
    brand       String,
    product_sku String,
    variant     String,
    channel     String,
    source      String,
    feedback    UInt64,
    positive    UInt64,
    neutral     UInt64,
    negative    UInt64,
    score_sum   Float64,
    rated       UInt64,
    rating_sum  UInt64,
    nps_answers UInt64,
    promoters   UInt64,
    passives    UInt64,
    detractors  UInt64
) ENGINE = SummingMergeTree((feedback, positive, neutral, negative, score_sum, rated, rating_sum,
                             nps_answers, promoters, passives, detractors))
PARTITION BY toYYYYMM(period)
ORDER BY (brand, period, product_sku, variant, channel, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS feedback_rollup_hour_mv TO feedback_rollup_hour AS
SELECT
    toStartOfHour(event_time) AS period, brand, product_sku, variant, channel, source,
    count() AS feedback,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum,
    countIf(isNotNull(rating)) AS rated,
    sum(toUInt64(ifNull(rating, 0))) AS rating_sum,
    countIf(isNotNull(nps)) AS nps_answers,
    countIf(ifNull(nps, 0) >= 9) AS promoters,
    countIf(isNotNull(nps) AND ifNull(nps, 0) BETWEEN 7 AND 8) AS passives,
    countIf(isNotNull(nps) AND ifNull(nps, 0) <= 6) AS detractors
FROM feedback
GROUP BY period, brand, product_sku, variant, channel, source;

CREATE TABLE IF NOT EXISTS feedback_rollup_day (
    period      Date,
    brand       String,
    product_sku String,
    variant     String,
    channel     String,
    source      String,
    feedback    UInt64,
    positive    UInt64,
    neutral     UInt64,
    negative    UInt64,
    score_sum   Float64,
    rated       UInt64,
    rating_sum  UInt64,
    nps_answers UInt64,
    promoters   UInt64,
    passives    UInt64,
    detractors  UInt64
) ENGINE = SummingMergeTree((feedback, positive, neutral, negative, score_sum, rated, rating_sum,
                             nps_answers, promoters, passives, detractors))
PARTITION BY toYYYYMM(period)
ORDER BY (brand, period, product_sku, variant, channel, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS feedback_rollup_day_mv TO feedback_rollup_day AS
SELECT
    toDate(event_time) AS period, brand, product_sku, variant, channel, source,
    count() AS feedback,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum,
    countIf(isNotNull(rating)) AS rated,
    sum(toUInt64(ifNull(rating, 0))) AS rating_sum,
    countIf(isNotNull(nps)) AS nps_answers,
    countIf(ifNull(nps, 0) >= 9) AS promoters,
    countIf(isNotNull(nps) AND ifNull(nps, 0) BETWEEN 7 AND 8) AS passives,
    countIf(isNotNull(nps) AND ifNull(nps, 0) <= 6) AS detractors
FROM feedback
GROUP BY period, brand, product_sku, variant, channel, source;

-- Latest state per customer (customer_ref is a salted hash; '' = unknown customer).
CREATE TABLE IF NOT EXISTS customer_experience_state (
    customer_ref    String,
    brand           String,
    feedback        AggregateFunction(count),
    complaints      AggregateFunction(countIf, UInt8),
    first_seen      AggregateFunction(min, DateTime),
    last_seen       AggregateFunction(max, DateTime),
    last_polarity   AggregateFunction(argMax, Int8, DateTime),
    last_score      AggregateFunction(argMax, Float32, DateTime),
    last_channel    AggregateFunction(argMax, String, DateTime),
    last_product    AggregateFunction(argMax, String, DateTime),
    last_feedback   AggregateFunction(argMax, String, DateTime),
    last_text       AggregateFunction(argMax, String, DateTime),
    nps_answers     AggregateFunction(countIf, UInt8),
    last_nps        AggregateFunction(argMaxIf, UInt8, DateTime, UInt8)
) ENGINE = AggregatingMergeTree()
ORDER BY (brand, customer_ref);

CREATE MATERIALIZED VIEW IF NOT EXISTS customer_experience_state_mv TO customer_experience_state AS
SELECT
    customer_ref, brand,
    countState() AS feedback,
    countIfState(polarity < 0) AS complaints,
    minState(event_time) AS first_seen,
    maxState(event_time) AS last_seen,
    argMaxState(polarity, event_time) AS last_polarity,
    argMaxState(score, event_time) AS last_score,
    argMaxState(channel, event_time) AS last_channel,
    argMaxState(product_sku, event_time) AS last_product,
    argMaxState(feedback_id, event_time) AS last_feedback,
    argMaxState(text, event_time) AS last_text,
    countIfState(isNotNull(nps)) AS nps_answers,
    argMaxIfState(ifNull(nps, 0), event_time, isNotNull(nps)) AS last_nps
FROM feedback
WHERE customer_ref != ''
GROUP BY customer_ref, brand;

-- The customer profile BI tools read: one row per customer and brand.
CREATE VIEW IF NOT EXISTS customer_experience AS
SELECT
    customer_ref, brand,
    countMerge(feedback) AS feedback_count,
    countIfMerge(complaints) AS complaints,
    minMerge(first_seen) AS first_seen,
    maxMerge(last_seen) AS last_seen,
    argMaxMerge(last_polarity) AS last_polarity,
    argMaxMerge(last_score) AS last_score,
    argMaxMerge(last_channel) AS last_channel,
    argMaxMerge(last_product) AS last_product,
    argMaxMerge(last_feedback) AS last_feedback_id,
    argMaxMerge(last_text) AS last_text,
    countIfMerge(nps_answers) AS nps_answers,
    if(nps_answers = 0, NULL, argMaxIfMerge(last_nps)) AS last_nps,
    multiIf(nps_answers = 0, '', last_nps >= 9, 'promoter', last_nps >= 7, 'passive', 'detractor')
        AS nps_category
FROM customer_experience_state
GROUP BY customer_ref, brand;

-- Backfill from the facts already stored.
INSERT INTO aspect_rollup_minute
SELECT
    toStartOfMinute(event_time) AS period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2,
    count() AS mentions,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum
FROM aspect_mentions FINAL
GROUP BY period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2;

INSERT INTO aspect_rollup_hour
SELECT
    toStartOfHour(event_time) AS period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2,
    count() AS mentions,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum
FROM aspect_mentions FINAL
GROUP BY period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2;

INSERT INTO aspect_rollup_day
SELECT
    toDate(event_time) AS period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2,
    count() AS mentions,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum
FROM aspect_mentions FINAL
GROUP BY period, brand, product_sku, variant, channel, source, aspect, aspect_l1, aspect_l2;

INSERT INTO feedback_rollup_hour
SELECT
    toStartOfHour(event_time) AS period, brand, product_sku, variant, channel, source,
    count() AS feedback,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum,
    countIf(isNotNull(rating)) AS rated,
    sum(toUInt64(ifNull(rating, 0))) AS rating_sum,
    countIf(isNotNull(nps)) AS nps_answers,
    countIf(ifNull(nps, 0) >= 9) AS promoters,
    countIf(isNotNull(nps) AND ifNull(nps, 0) BETWEEN 7 AND 8) AS passives,
    countIf(isNotNull(nps) AND ifNull(nps, 0) <= 6) AS detractors
FROM feedback FINAL
GROUP BY period, brand, product_sku, variant, channel, source;

INSERT INTO feedback_rollup_day
SELECT
    toDate(event_time) AS period, brand, product_sku, variant, channel, source,
    count() AS feedback,
    countIf(polarity > 0) AS positive,
    countIf(polarity = 0) AS neutral,
    countIf(polarity < 0) AS negative,
    sum(toFloat64(score)) AS score_sum,
    countIf(isNotNull(rating)) AS rated,
    sum(toUInt64(ifNull(rating, 0))) AS rating_sum,
    countIf(isNotNull(nps)) AS nps_answers,
    countIf(ifNull(nps, 0) >= 9) AS promoters,
    countIf(isNotNull(nps) AND ifNull(nps, 0) BETWEEN 7 AND 8) AS passives,
    countIf(isNotNull(nps) AND ifNull(nps, 0) <= 6) AS detractors
FROM feedback FINAL
GROUP BY period, brand, product_sku, variant, channel, source;

INSERT INTO customer_experience_state
SELECT
    customer_ref, brand,
    countState() AS feedback,
    countIfState(polarity < 0) AS complaints,
    minState(event_time) AS first_seen,
    maxState(event_time) AS last_seen,
    argMaxState(polarity, event_time) AS last_polarity,
    argMaxState(score, event_time) AS last_score,
    argMaxState(channel, event_time) AS last_channel,
    argMaxState(product_sku, event_time) AS last_product,
    argMaxState(feedback_id, event_time) AS last_feedback,
    argMaxState(text, event_time) AS last_text,
    countIfState(isNotNull(nps)) AS nps_answers,
    argMaxIfState(ifNull(nps, 0), event_time, isNotNull(nps)) AS last_nps
FROM feedback FINAL
WHERE customer_ref != ''
GROUP BY customer_ref, brand;
