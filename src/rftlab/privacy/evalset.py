"""The labelled evaluation set: every kind of personal data in several forms and contexts.

Generated, seeded (`build(seed)` gives the same list every time): each Sample is one message
holding one planted value, labelled with its kind and the exact characters a detector must
cover. Contexts are the ways real Japanese messages hide data from word-boundary patterns:
glued to kana or kanji, in brackets, in full-width characters, in a URL, in code, and spaced.
Values are made up (example.* domains, test card ranges made Luhn-valid, My Numbers with a
computed check digit). Used by tests/test_privacy_evalset.py and benchmarks/bench_pii.py.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from rftlab.privacy.patterns import luhn_ok, my_number_ok

CONTEXTS = ("glued_kana", "glued_kanji", "spaced", "brackets", "fullwidth", "url", "code")


@dataclass(frozen=True)
class Sample:
    kind: str
    form: str
    context: str
    text: str
    value: str  # the planted characters, as they appear in `text`

    @property
    def span(self) -> tuple[int, int]:
        start = self.text.index(self.value)
        return start, start + len(self.value)


def fullwidth(s: str) -> str:
    """ASCII -> full-width forms (what a Japanese IME types); other characters unchanged."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in s)


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice(string.digits) for _ in range(n))


def _luhn(r: random.Random, prefix: str, length: int) -> str:
    body = prefix + _digits(r, length - len(prefix) - 1)
    return next(body + d for d in string.digits if luhn_ok(body + d))


def _my_number(r: random.Random) -> str:
    body = str(r.randint(1, 9)) + _digits(r, 10)
    return next(body + d for d in string.digits if my_number_ok(body + d))


def _group(d: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for n in sizes:
        out.append(d[i:i + n])
        i += n
    return sep.join(out)


def _word(r: random.Random, lo: int = 3, hi: int = 8) -> str:
    return "".join(r.choice(string.ascii_lowercase) for _ in range(r.randint(lo, hi)))


def _b64(r: random.Random, n: int) -> str:
    chars = string.ascii_letters + string.digits + "/+"
    while True:
        v = "".join(r.choice(chars) for _ in range(n))
        if any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v):
            return v


def _password(r: random.Random) -> str:
    return _word(r, 4, 7) + _digits(r, r.randint(1, 3)) + r.choice(["", "!", "$", "_x"])


Gen = Callable[[random.Random], str]
PREFS = ["東京都", "大阪府", "神奈川県", "愛知県", "福岡県", "北海道"]
WARDS = ["千代田区", "港区", "中央区", "横浜市西区", "大阪市北区", "名古屋市中村区", "札幌市中央区", "福岡市博多区"]
TOWNS = ["丸の内", "六本木", "梅田", "名駅", "博多駅前", "西新宿", "みなとみらい", "銀座"]

# kind -> {form: generator}; every value is one the detector must find whole
FORMS: dict[str, dict[str, Gen]] = {
    "email": {
        "plain": lambda r: f"{_word(r)}@example.co.jp",
        "dotted_digits": lambda r: f"{_word(r)}.{_word(r, 2, 5)}{r.randint(1, 99)}@mail.example.com",
        "plus_tag": lambda r: f"{_word(r)}+{_word(r, 2, 4)}@example.org",
    },
    "phone": {
        "mobile": lambda r: f"0{r.choice('789')}0-{_digits(r, 4)}-{_digits(r, 4)}",
        "mobile_compact": lambda r: f"0{r.choice('789')}0{_digits(r, 8)}",
        "tokyo": lambda r: f"03-{_digits(r, 4)}-{_digits(r, 4)}",
        "area4": lambda r: f"0466-{_digits(r, 2)}-{_digits(r, 4)}",
        "paren_local": lambda r: f"03({_digits(r, 4)}){_digits(r, 4)}",
        "paren_area": lambda r: f"(06){_digits(r, 4)}-{_digits(r, 4)}",
        "free_dial": lambda r: f"0120-{_digits(r, 3)}-{_digits(r, 3)}",
        "spaced_groups": lambda r: f"090 {_digits(r, 4)} {_digits(r, 4)}",
        "e164_jp": lambda r: f"+81-90-{_digits(r, 4)}-{_digits(r, 4)}",
        "e164_compact": lambda r: f"+8180{_digits(r, 8)}",
        "e164_trunk": lambda r: f"+81(0)3-{_digits(r, 4)}-{_digits(r, 4)}",
        "e164_us": lambda r: f"+1 (555) {_digits(r, 3)}-{_digits(r, 4)}",
        "tel_label": lambda r: f"{r.choice(['TEL', 'Tel.', 'FAX:', 'tel '])}|0{r.randint(3, 6)}-{_digits(r, 4)}-{_digits(r, 4)}",
    },
    "card": {
        "visa_spaced": lambda r: _group(_luhn(r, "4", 16), (4, 4, 4, 4), " "),
        "mastercard_hyphen": lambda r: _group(_luhn(r, "5" + r.choice("12345"), 16), (4, 4, 4, 4), "-"),
        "amex": lambda r: _group(_luhn(r, "3" + r.choice("47"), 15), (4, 6, 5), " "),
        "jcb_compact": lambda r: _luhn(r, "35", 16),
    },
    "my_number": {
        "compact": _my_number,
        "spaced": lambda r: _group(_my_number(r), (4, 4, 4), " "),
        "hyphen": lambda r: _group(_my_number(r), (4, 4, 4), "-"),
    },
    "postal_code": {
        "hyphen": lambda r: f"{_digits(r, 3)}-{_digits(r, 4)}",
        "compact": lambda r: _digits(r, 7),
    },
    "address": {
        "pref_ward_hyphens": lambda r: f"{r.choice(PREFS)}{r.choice(WARDS)}{r.choice(TOWNS)}"
                                       f"{r.randint(1, 9)}-{r.randint(1, 30)}-{r.randint(1, 20)}",
        "ward_chome_ban_go": lambda r: f"{r.choice(WARDS)}{r.choice(TOWNS)}{r.randint(1, 9)}丁目{r.randint(1, 30)}番"
                                       f"{r.randint(1, 20)}号",
        "ward_two_groups": lambda r: f"{r.choice(WARDS)}{r.choice(TOWNS)}{r.randint(1, 9)}-{r.randint(1, 30)}",
        "kanji_chome": lambda r: f"{r.choice(WARDS)}{r.choice(TOWNS)}{r.choice('一二三四五六七八九')}丁目",
        "banchi": lambda r: f"{r.choice(PREFS)}{r.choice(['軽井沢町', '箱根町', '白馬村'])}{r.randint(100, 2999)}番地",
        "sapporo_jo": lambda r: f"札幌市中央区北{r.randint(1, 9)}条西{r.randint(1, 9)}丁目",
    },
    "ip": {
        "ten": lambda r: f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        "one_seven_two": lambda r: f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        "one_nine_two_cidr": lambda r: f"192.168.{r.randint(0, 255)}.0/24",
        "ipv6_ula": lambda r: f"fd{r.randint(16, 255):02x}:{r.randint(4096, 65535):x}::{r.randint(1, 255):x}",
    },
    "secret": {
        "aws_access_key_id": lambda r: "AKIA" + "".join(r.choice(string.ascii_uppercase + "234567") for _ in range(16)),
        "aws_secret_access_key": lambda r: _b64(r, 40),
        "slack_token": lambda r: f"xoxb-{_digits(r, 12)}-{_digits(r, 12)}-{_b64(r, 24).replace('/', 'a').replace('+', 'b')}",
        "github_token": lambda r: "ghp_" + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(36)),
        "jwt": lambda r: "eyJhbGciOiJIUzI1NiJ9.eyJ" + _b64(r, 20).replace("/", "_").replace("+", "-") + "."
                         + _b64(r, 22).replace("/", "_").replace("+", "-"),
    },
}

# phrasings whose value is found by the words around it: (kind, form) -> template with {v}
WORDED: dict[str, dict[str, str]] = {
    "password": {
        "ja_wa_space": "パスワードは {v}",
        "ja_wa_glued": "パスワードは{v}です",
        "ja_colon": "パスワード：{v}",
        "ja_quoted": "パスワードは「{v}」です",
        "pw_colon": "pw: {v}",
        "PW_equals": "PW={v}",
        "en_colon": "password: {v}",
        "pin": "暗証番号は{v}",
        "arrow": "初期パスワード→{v}",
        "url_query": "https://example.com/login?user=admin&password={v}",
    },
    "secret": {
        "aws_env": "AWS_SECRET_ACCESS_KEY={v}",
        "aws_ja": "シークレットアクセスキー：{v}",
        "api_key_ja": "APIキーは {v} です",
        "token_json": '{{"access_token": "{v}"}}',
        "url_credentials": "postgres://app:{v}@db.internal.example/prod",
        "url_query": "https://api.example.com/cb?access_token={v}",
    },
}
WORD_VALUES: dict[str, Gen] = {"password": _password, "secret": lambda r: _b64(r, 32).replace("/", "k").replace("+", "Q")}

_JA_BEFORE = ["連絡は", "こちらは", "念のため", "宛先は"]
_JA_AFTER = ["までお願いします", "です", "にどうぞ", "でした"]
_KANJI_BEFORE = ["代表", "連絡先", "本社", "担当者"]
_KANJI_AFTER = ["宛", "迄", "経由", "様"]
_BRACKETS = [("「", "」"), ("（", "）"), ("【", "】"), ("[", "]"), ("(", ")")]
_URLS = {
    "email": "mailto:{v}", "phone": "tel:{v}", "card": "https://pay.example.com/charge?card={v}&amount=100",
    "my_number": "https://forms.example.com/submit?mynumber={v}", "ip": "http://{v}:8080/admin",
    "postal_code": "https://example.com/search?q=〒{v}", "address": "https://maps.example.com/?q={v}",
    "secret": "https://example.com/debug?dump={v}",
}


def _place(kind: str, value: str, label: str) -> str:
    """How the value stands in a message before any context: postal codes come with 〒."""
    return f"〒{value}" if kind == "postal_code" else label + value


def _contextual(r: random.Random, kind: str, raw: str, context: str) -> tuple[str, str]:
    """(text, planted value as it appears) for a value that stands on its own.

    `raw` may carry a label glued before the value, split off by "|" (TEL|03-…): the label is
    part of the message, not of what must be found.
    """
    label, _, value = raw.rpartition("|")
    if context == "fullwidth":
        value, label = fullwidth(value), fullwidth(label)
    v = _place(kind, value, label)
    if context in ("glued_kana", "fullwidth"):
        return f"{r.choice(_JA_BEFORE)}{v}{r.choice(_JA_AFTER)}", value
    if context == "glued_kanji":
        return f"{r.choice(_KANJI_BEFORE)}{v}{r.choice(_KANJI_AFTER)}", value
    if context == "spaced":
        return f"連絡先 {v} です", value
    if context == "brackets":
        a, b = r.choice(_BRACKETS)
        return f"詳細は{a}{v}{b}を参照", value
    if context == "url":
        value = value.replace(" ", "") if kind in ("card", "my_number") else value
        return "ここ: " + _URLS[kind].format(v=label.strip() + value) + " を見て", value
    if context == "code":
        if r.random() < 0.5:
            return f"設定は `{v}` で", value
        return f"```\nvalue = \"{v}\"\n```", value
    raise ValueError(context)


def _worded(r: random.Random, template: str, value: str, context: str) -> tuple[str, str]:
    if context == "fullwidth":
        value = fullwidth(value)
        template = template.replace(":", "：").replace("=", "＝")
    body = template.format(v=value)
    if context == "glued_kana":
        return f"ちなみに{body}よろしく", value
    if context == "code":
        return f"```\n{body}\n```", value
    if context == "brackets":
        return f"（{body}）", value
    return body, value


def build(seed: int = 0, repeats: int = 3) -> list[Sample]:
    """The whole labelled set: FORMS x CONTEXTS and WORDED x their contexts, `repeats` values each."""
    r = random.Random(seed)
    out: list[Sample] = []
    for kind, forms in FORMS.items():
        for form, gen in forms.items():
            for context in CONTEXTS:
                for _ in range(repeats):
                    text, value = _contextual(r, kind, gen(r), context)
                    out.append(Sample(kind, form, context, text, value))
    for kind, templates in WORDED.items():
        for form, template in templates.items():
            contexts = ("spaced", "glued_kana") if form.startswith("url") else ("spaced", "glued_kana", "brackets", "fullwidth", "code")
            for context in contexts:
                for _ in range(repeats):
                    text, value = _worded(r, template, WORD_VALUES[kind](r), context)
                    out.append(Sample(kind, f"worded_{form}", context, text, value))
    return out
