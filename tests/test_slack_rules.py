"""Markup normalization and PII scrubbing rules (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rftlab.privacy.scrub import scrub
from rftlab.slack.export import user_names
from rftlab.slack.normalize import Normalizer, unescape

USERS = {"U123": "田中 太郎", "U9": "bob"}
CHANNELS = {"C123": "general", "C9": "開発"}


@pytest.fixture
def norm() -> Normalizer:
    return Normalizer(USERS, CHANNELS, drop_code_blocks=True)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("<@U123> さん", "@田中 太郎 さん"),
        ("<@U123|taro> hi", "@田中 太郎 hi"),  # users.json wins over the stale label
        ("<@U777|ghost> hi", "@ghost hi"),  # unknown user: the label
        ("<@U777> hi", "@U777 hi"),  # unknown, no label: the id, never raw markup
        ("<#C123|general> へ", "#general へ"),
        ("<#C9> へ", "#開発 へ"),  # bare channel link resolved through channels.json
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("<!here|here> 注意", "@here 注意"),
        ("<!subteam^S123|@infra-team> 見て", "@infra-team 見て"),
        ("<!subteam^S123> 見て", "@team 見て"),
        ("<!date^1392734382^{date}|Feb 18> まで", "Feb 18 まで"),
        ("<https://x.example/a|ドキュメント> 参照", "ドキュメント 参照"),
        ("see <https://x.example/a/b?c=1>", "see <URL>"),
        ("see <http://old.example.com>", "see <URL>"),
        ("<https://example.com|example.com>", "<URL>"),  # auto-linked text is a URL too
        ("<mailto:a@b.example|a@b.example>", "a@b.example"),
        ("<mailto:a@b.example>", "a@b.example"),
        ("A &amp; B &lt;3 &gt;", "A & B <3 >"),
        ("double &amp;lt;tag&amp;gt;", "double <tag>"),
        ("前\n```\nsecret code\n```\n後", "前\n\n後"),
        ("unterminated ```code", "unterminated"),
        ("", ""),
    ],
)
def test_markup(norm: Normalizer, raw: str, expected: str) -> None:
    assert norm(raw) == expected


def test_code_blocks_kept_when_param_off() -> None:
    assert "x = 1" in Normalizer(drop_code_blocks=False)("a ```x = 1``` b")


def test_file_upload_boilerplate_removed(norm: Normalizer) -> None:
    raw = "<@U9|bob> uploaded a file: <https://files.slack.com/f/1|report.pdf> and commented: Numbers attached"
    assert norm(raw) == "Numbers attached"
    assert norm("<@U9|bob> uploaded a file: <https://files.slack.com/f/2|img.png>") == ""


def test_unescape_is_idempotent_on_plain_text() -> None:
    assert unescape("plain 日本語") == "plain 日本語"


def test_user_names_fallback_order() -> None:
    users = [
        {"id": "U1", "name": "musashi", "real_name": "宮本 武蔵", "profile": {"display_name": "むさし"}},
        {"id": "U2", "name": "bob", "real_name": "Bob Smith", "profile": {"display_name": ""}},
        {"id": "U3", "name": "alice", "profile": {"real_name": "Alice Jones"}},
        {"id": "U4", "name": "carol"},
    ]
    assert user_names(users) == {"U1": "むさし", "U2": "Bob Smith", "U3": "Alice Jones", "U4": "carol"}


@pytest.mark.parametrize(
    "raw, expected, kind",
    [
        ("連絡は hanako.sato@example.co.jp まで", "連絡は <EMAIL> まで", "email"),
        ("mail bob+tag@mail.example.com.", "mail <EMAIL>.", "email"),
        ("携帯 090-1234-5678 です", "携帯 <PHONE> です", "phone"),
        ("代表 03-1234-5678", "代表 <PHONE>", "phone"),
        ("フリーダイヤル 0120-123-456", "フリーダイヤル <PHONE>", "phone"),
        ("携帯 09012345678", "携帯 <PHONE>", "phone"),
        ("全角 ０９０－１２３４－５６７８", "全角 <PHONE>", "phone"),
        ("intl +81-90-1234-5678", "intl <PHONE>", "phone"),
        ("intl +81 3 1234 5678", "intl <PHONE>", "phone"),
        ("call (555) 123-4567", "call <PHONE>", "phone"),
        ("token xoxb-1234567890-abcdefghij", "token <SECRET>", "secret"),
        ("key AKIAIOSFODNN7EXAMPLE", "key <SECRET>", "secret"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "gh <SECRET>", "secret"),
        ("https://x.example/a?token=abc123&page=2", "https://x.example/a?token=<SECRET>&page=2", "secret"),
        ("https://b.s3.amazonaws.com/k?X-Amz-Signature=ffee01", "https://b.s3.amazonaws.com/k?X-Amz-Signature=<SECRET>", "secret"),
        ("https://x.example/?sig=zz9&key=k1", "https://x.example/?sig=<SECRET>&key=<SECRET>", "secret"),
        ("postgres://admin:hunter2@db.example/prod", "postgres://<SECRET>@db.example/prod", "secret"),
        ("aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCY", "aws_secret_access_key = <SECRET>", "secret"),
    ],
)
def test_pii(raw: str, expected: str, kind: str) -> None:
    text, counts = scrub(raw)
    assert text == expected
    assert counts[kind] >= 1


@pytest.mark.parametrize(
    "clean",
    [
        "2025-01-02 にリリース", "v1.2.3 を入れた", "ts 1700000000.000100", "@田中 太郎 さん", "10:30 から定例",
        "Lambda の同時実行数 1000", "費用は 12,345 円", "<URL> を見て", "port 8080",
    ],
)
def test_pii_leaves_ordinary_text_alone(clean: str) -> None:
    text, counts = scrub(clean)
    assert text == clean
    assert not counts


def test_pii_counts_per_kind() -> None:
    _, counts = scrub("a@b.example c@d.example 090-1111-2222 xoxp-1234567890-abc")
    assert counts == {"email": 2, "phone": 1, "secret": 1}


_piece = st.one_of(
    st.text(alphabet="abcあいう漢字 !?&;<>|@#:/.", max_size=8),
    st.sampled_from(["<@U123>", "<@U9|bob>", "<@W777|x>", "<#C123|general>", "<#C9>", "<!here>", "<!channel>",
                     "<!subteam^S1|@ops>", "<https://a.example/x?token=1|ラベル>", "<http://b.example>",
                     "<mailto:a@b.example|a@b.example>", "&amp;lt;", "&gt;", "```code```"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_piece, max_size=12).map("".join))
def test_no_slack_markup_survives(raw: str) -> None:
    out = Normalizer(USERS, CHANNELS, drop_code_blocks=True)(raw)
    for token in ("<@U", "<@W", "<#C", "<!here", "<!channel", "<!subteam", "<http", "<mailto"):
        if "lt;" not in raw:  # an escaped literal (`&lt;@U1&gt;`) is text the user typed, not markup
            assert token not in out, (token, raw, out)
    scrubbed, _ = scrub(out)
    assert scrub(scrubbed)[0] == scrubbed  # idempotent: placeholders are never re-scrubbed
