-- 0002: what an alert says beyond its numbers (issue #4): short masked verbatims of its
-- samples, the reason in words (test and p-value, critical terms found), and for a
-- `resolved` event the alert_id it closes ('' otherwise).
-- One statement, so that a crash cannot leave half of it applied (18.16 has no
-- ADD COLUMN IF NOT EXISTS).
ALTER TABLE alerts
    ADD COLUMN verbatims Array(String) AFTER sample_feedback_ids,
    ADD COLUMN reason String AFTER verbatims,
    ADD COLUMN resolves String AFTER reason;
