"""Detection on Japanese text: the issue's cases, check digits, offsets, clean text, idempotence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rftlab.privacy.detect import find
from rftlab.privacy.patterns import luhn_ok, my_number_ok
from rftlab.privacy.scrub import scrub

# (message, the characters that must go, kind) -- each written as the issue reports it
CASES = [
    ("緊急時は090-1234-5678まで", "090-1234-5678", "phone"),
    ("代表03-1234-5678に", "03-1234-5678", "phone"),
    ("携帯は０９０－１２３４－５６７８です", "０９０－１２３４－５６７８", "phone"),
    ("０９０ー１２３４ー５６７８へ", "０９０ー１２３４ー５６７８", "phone"),
    ("本社03(1234)5678まで", "03(1234)5678", "phone"),
    ("TEL03-1234-5678", "03-1234-5678", "phone"),
    ("海外から+81-90-1234-5678に", "+81-90-1234-5678", "phone"),
    ("連絡はtaro@example.comまで", "taro@example.com", "email"),
    ("メール：hanako@example.co.jpです", "hanako@example.co.jp", "email"),
    ("宛先ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ様", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "email"),
    ("DBは10.0.12.5です", "10.0.12.5", "ip"),
    ("ルータ192.168.1.1にログイン", "192.168.1.1", "ip"),
    ("カード4111111111111111で決済", "4111111111111111", "card"),
    ("番号は「5555 5555 5555 4444」", "5555 5555 5555 4444", "card"),
    ("キーはwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYです", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret"),
    ("シークレットアクセスキー：abcd1234efgh5678ijkl", "abcd1234efgh5678ijkl", "secret"),
    ("〒100-0001 東京都千代田区千代田1-1", "100-0001", "postal_code"),
    ("〒100-0001 東京都千代田区千代田1-1", "東京都千代田区千代田1-1", "address"),
    ("住所は港区六本木6丁目10番1号です", "港区六本木6丁目10番1号", "address"),
    ("マイナンバーは123456789018です", "123456789018", "my_number"),
    ("パスワードは hunter22", "hunter22", "password"),
    ("パスワード：hunter2", "hunter2", "password"),
    ("pw: abcd", "abcd", "password"),
    ("ﾊﾟｽﾜｰﾄﾞ：ｈｕｎｔｅｒ２", "ｈｕｎｔｅｒ２", "password"),
    ("DBはpostgres://admin:hunter2@db.example/prodです", "admin:hunter2", "secret"),
]


@pytest.mark.parametrize("text, value, kind", CASES)
def test_found_and_scrubbed_whole(text: str, value: str, kind: str) -> None:
    start = text.index(value)
    found = find(text)
    assert any(f.kind == kind and f.start <= start and f.end >= start + len(value) for f in found), found
    out, counts = scrub(text)
    assert value not in out and f"<{kind.upper()}>" in out and counts[kind] >= 1


def test_scrub_keeps_the_text_around_full_width_and_half_width_data() -> None:
    # NFKC changes lengths (ﾊﾟ -> パ, ｶﾞ -> ガ): the placeholder must still sit over exactly the value
    assert scrub("ｶﾞｲﾄﾞ：ﾊﾟｽﾜｰﾄﾞは ｈｕｎｔｅｒ２２。")[0] == "ｶﾞｲﾄﾞ：ﾊﾟｽﾜｰﾄﾞは <PASSWORD>。"
    assert scrub("①携帯０９０－１２３４－５６７８、②メールｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ")[0] == "①携帯<PHONE>、②メール<EMAIL>"


@pytest.mark.parametrize(
    "clean",
    [
        "2025-01-02 にリリース", "v1.2.3.4 を入れた", "ts 1700000000.000100", "10:30 から定例", "費用は 12,345 円",
        "port 8080 で待ち受け", "arn:aws:iam::123456789012:role/rftlab", "commit 3f9a6c1d2e4b5a6978c0d1e2f3a4b5c6d7e8f9a0",
        "id 6f1c2b9e-3d4a-4c8e-9f00-1a2b3c4d5e6f", "127.0.0.1 と 8.8.8.8", "パスワードを変更してください",
        "パスワードはSlackのDMで送ります", "パスワードは8文字以上", "パスは /var/log/app です", "トークンは期限切れでした",
        "api_key = os.environ['API_KEY']", "株式市場は3-4%上昇", "大阪市では1-2件", "対象地区1-2を確認", "3丁目の夕日",
        "第2四半期の売上は1,234,567円", "電話は後で", "+1 したい", "(555) 件", "ID: 0000 0000 0000",
        "grader g-0123456789ab", "md5 3f9a6c1d2e4b123456789018c0d1e2f3 を確認",
    ],
)
def test_ordinary_text_is_left_alone(clean: str) -> None:
    assert find(clean) == []
    assert scrub(clean) == (clean, {})


def test_card_numbers_need_the_luhn_check() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert find("カード4111111111111112で") == []


def test_my_number_needs_its_check_digit_unless_named() -> None:
    # 12345678901 -> weights 2..7,2..6 from the right give 212; 212 mod 11 = 3; check digit 11 - 3 = 8
    assert my_number_ok("123456789018") and not my_number_ok("123456789017")
    assert find("受付番号123456789017です") == []
    assert [f.kind for f in find("マイナンバー 123456789017")] == ["my_number"]  # a mistyped one is still one


def test_findings_do_not_overlap_and_credentials_are_one_secret() -> None:
    text, counts = scrub("postgres://admin:hunter2@db.example/prod と taro@example.com")
    assert text == "postgres://<SECRET>@db.example/prod と <EMAIL>"
    assert counts == {"secret": 1, "email": 1}


_piece = st.one_of(
    st.text(alphabet="abcxyzあいう漢字 !?&;<>|@#:/.-=０１２3456789()〒：", max_size=10),
    st.sampled_from(["090-1234-5678", "taro@example.com", "パスワードは", "pw:", "〒100-0001", "東京都港区",
                     "1-2-3", "4111 1111 1111 1111", "10.0.0.1", "xoxb-1234567890-abcdef", "<PHONE>", "<SECRET>"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_piece, max_size=10).map("".join))
def test_scrub_is_idempotent_and_never_grows_findings(raw: str) -> None:
    once, _ = scrub(raw)
    assert scrub(once) == (once, {})
