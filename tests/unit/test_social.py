"""Social posts (issue #17): the brand and product found in the text, a post naming no brand
skipped and counted, the author hashed, engagement kept; bad posts rejected with a reason."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from config.brand_lexicon import BrandLexicon, load_brand_lexicon
from config.resources import REPO_ROOT
from pipeline.errors import InvalidMessage
from pipeline.ingest import IngestContext, ingest_social
from pipeline.stages import score_batch
from pipeline.text.analysis import Analyzer
from tests.unit.conftest import record

LEXICON = load_brand_lexicon(REPO_ROOT / "config" / "brand_lexicon.yaml")
POST = {
    "platform": "weibo",
    "post_id": "P1",
    "author_id": "U42",
    "text": "刚买的云杉脐橙烂了一半，客服电话13812345678也打不通",
    "ts": "2026-11-01T10:00:00Z",
    "engagement": {"likes": 100, "comments": 20, "shares": 5},
}


@pytest.fixture
def social_ctx(ingest_ctx: IngestContext) -> IngestContext:
    return dataclasses.replace(ingest_ctx, brands=LEXICON)


def test_the_brand_and_product_are_found_in_the_text(social_ctx: IngestContext) -> None:
    fb = ingest_social(record(orjson.dumps(POST), "t.social.raw"), social_ctx)
    assert fb is not None
    assert (fb.feedback_id, fb.source, fb.channel, fb.brand, fb.product_sku) == (
        "social:weibo:P1", "social", "weibo", "云杉", "云杉-FRUIT",
    )  # fmt: skip
    assert fb.engagement == 125 and "13812345678" not in fb.text
    assert fb.customer_ref and "U42" not in fb.customer_ref  # the author, hashed
    comment = ingest_social(record(orjson.dumps({**POST, "comment_id": "C9"})), social_ctx)
    assert comment is not None and comment.feedback_id == "social:weibo:P1:C9"


def test_the_first_brand_named_wins_and_a_post_without_one_is_skipped(social_ctx: IngestContext) -> None:
    assert LEXICON.find("北极星官方的手机比云杉的好") == ("北极星", "北极星-PHONE")
    assert LEXICON.find("yunshan 的洗发水") == ("云杉", "云杉-SHAMPOO")  # aliases ignore case
    assert LEXICON.find("青禾") == ("青禾", "")
    assert ingest_social(record(orjson.dumps({**POST, "text": "今天天气真好"})), social_ctx) is None


def test_skipped_posts_are_counted_and_bad_ones_dead_lettered(
    social_ctx: IngestContext, analyzer: Analyzer
) -> None:
    posts = [
        record(orjson.dumps(POST), "t.social.raw", 1),
        record(orjson.dumps({**POST, "text": "没有品牌"}), "t.social.raw", 2),
        record(orjson.dumps({**POST, "engagement": {"likes": -1}}), "t.social.raw", 3),
    ]
    outcome = score_batch(posts, ingest_social, social_ctx, analyzer, "t.scored", "t.dlq")
    assert len(outcome.outputs) == 1 and outcome.skipped == 1 and outcome.dead_reasons == ["schema_invalid"]


def test_without_a_lexicon_social_posts_are_refused_not_dropped(ingest_ctx: IngestContext) -> None:
    with pytest.raises(InvalidMessage, match="brand lexicon"):
        ingest_social(record(orjson.dumps(POST)), ingest_ctx)


def test_a_lexicon_needs_a_brand() -> None:
    with pytest.raises(ValueError, match="brands"):
        BrandLexicon.model_validate({"brands": []})
