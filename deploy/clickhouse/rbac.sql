-- Users and roles for current ClickHouse (SQL-driven access control, 20.4+). The local 18.16
-- server has no RBAC: deploy/local/clickhouse-users.xml defines the same two users there.
-- Run as an administrator, replacing the passwords; the database is `voc` by default.

CREATE ROLE IF NOT EXISTS voc_ingest_role;
GRANT SELECT, INSERT, CREATE TABLE, ALTER, CREATE DATABASE ON voc.* TO voc_ingest_role;

-- BI: read only. readonly = 1 also forbids changing settings in a session.
CREATE SETTINGS PROFILE IF NOT EXISTS voc_bi_profile SETTINGS readonly = 1, max_execution_time = 60;
CREATE ROLE IF NOT EXISTS voc_bi_role;
GRANT SELECT ON voc.* TO voc_bi_role;

CREATE USER IF NOT EXISTS voc_ingest IDENTIFIED WITH sha256_password BY 'change-me-ingest'
    DEFAULT ROLE voc_ingest_role;
CREATE USER IF NOT EXISTS voc_bi IDENTIFIED WITH sha256_password BY 'change-me-bi'
    SETTINGS PROFILE voc_bi_profile DEFAULT ROLE voc_bi_role;
