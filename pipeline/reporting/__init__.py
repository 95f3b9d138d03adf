"""Reading results back from ClickHouse: the text report, the HTML page, the documented BI
queries (``bi_queries``, from docs/bi.md), the Grafana dashboard built on them and their
benchmark."""
