-- 0004: channel-level alerts (issue #4) name their channel; '' for product and brand alerts.
ALTER TABLE alerts
    ADD COLUMN channel String AFTER aspect;
