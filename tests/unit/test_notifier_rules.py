"""The notifier's pure rules: backoff with jitter, webhook signatures, digest periods, limits."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random

import pytest
from pydantic import ValidationError

from services.notifier.channels import sign, verify
from services.notifier.digest import period_of
from services.notifier.queue import Backoff
from services.notifier.settings import NotifierSettings


def test_backoff_doubles_is_capped_and_jittered() -> None:
    b = Backoff(base_s=10, max_s=60, max_attempts=6)
    rng = random.Random(1)
    for attempt, step in ((1, 10), (2, 20), (3, 40), (4, 60), (9, 60)):
        delays = [b.delay(attempt, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4, "jitter spreads retries out"


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = '{"kind": "task_new", "text": "Bạn được giao"}'.encode()
    expected = "sha256=" + hmac.new(b"k" * 16, body, hashlib.sha256).hexdigest()
    assert sign("k" * 16, body) == expected
    assert verify("k" * 16, body, expected)
    assert not verify("k" * 16, body + b" ", expected)


def test_digest_periods_start_at_seven_in_the_morning_vietnam_time() -> None:
    n, start = period_of(dt.datetime(2026, 3, 4, 23, 59, tzinfo=dt.UTC), period_s=86400, offset_s=0)
    assert start == dt.datetime(2026, 3, 4, tzinfo=dt.UTC)  # 07:00 on 4 March in Vietnam
    n2, _ = period_of(dt.datetime(2026, 3, 5, 0, 0, 1, tzinfo=dt.UTC), period_s=86400, offset_s=0)
    assert n2 == n + 1


def test_answer_limits_must_come_in_order() -> None:
    with pytest.raises(ValidationError, match="remind_after_s <= escalate_after_s <= decline_after_s"):
        NotifierSettings(remind_after_s=100, escalate_after_s=50, decline_after_s=200)
    assert NotifierSettings().remind_after_s == 24 * 3600
