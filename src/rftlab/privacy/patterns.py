"""The detectors' patterns and check digits, written for NFKC-folded Japanese and English text.

No pattern relies on `\\b` or `\\w`: kana and kanji are word characters to Python, so
`連絡はtaro@example.comまで` has no word boundary around the address. Edges are explicit
ASCII classes instead ("not preceded by a digit", "not followed by a letter or digit").
Inputs are NFKC (see fold.py): full-width digits, letters and `＠` `－` `：` are ASCII here.
"""

from __future__ import annotations

import re

# hyphens people type between digit groups (NFKC leaves these as they are), and the long-vowel mark
# used as one in full-width numbers (０９０ー１２３４ー５６７８)
DASH = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"
_SEP = f"[{DASH}. ]"

# ---------------------------------------------------------------- secrets by shape
_TOKEN_SHAPES = [
    r"xox[abposrte]-[A-Za-z0-9-]{10,}",  # Slack tokens
    r"xapp-\d-[A-Za-z0-9-]{10,}",
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}",  # AWS access key ids
    r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"glpat-[A-Za-z0-9_-]{20,}",  # GitLab
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",  # OpenAI / Anthropic style keys
    r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
    r"AIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"ya29\.[0-9A-Za-z_-]{20,}",  # Google OAuth access tokens
    r"npm_[A-Za-z0-9]{36}",
    r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWTs
    r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
]
TOKEN_RE = re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(_TOKEN_SHAPES) + ")", re.DOTALL)
# an AWS secret access key: 40 characters of base64 standing alone (shape check in detect.py)
AWS_SECRET_SHAPE_RE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")

# ---------------------------------------------------------------- secrets by the words around them
_SEP_WORDS = r"[\"']?\s*(?:[:=]|=>|は|is\s)\s*[\"'「『(\[]?"
_SECRET_WORDS = (
    r"(?:aws_?)?secret_?access_?key|secret[_ -]?key|api[_ -]?key|apikey|access[_ -]?token|auth[_ -]?token"
    r"|refresh[_ -]?token|bearer[_ -]?token|client[_ -]?secret|private[_ -]?key|signing[_ -]?key|token|secret"
    r"|シークレット(?:アクセス)?キー|秘密(?:アクセス)?キー|秘密鍵|APIキー|アクセストークン|認証トークン|トークン"
    r"|シークレット|認証キー|クライアントシークレット"
)
ASSIGNED_SECRET_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:" + _SECRET_WORDS + ")" + _SEP_WORDS + r"(?P<value>[A-Za-z0-9._~+/=-]{8,})"
)
_PASSWORD_WORDS = (
    r"パスワード|暗証番号|PINコード|PIN|passcode|passphrase|password|passwd|pass|pwd|pw"
)
# the value: printable ASCII without quotes, brackets or `<>` (placeholders are never re-matched)
_PW_VALUE = r"[A-Za-z0-9!#$%&*+\-./:;=?@^_`{|}~\\]{4,64}"
# where a match of ASSIGNED_SECRET_RE / PASSWORD_RE can start (lower case): detect.py runs the
# regexes only at these positions (an (?i) alternation scanned over every position is slow)
SECRET_WORD_STARTS = ("aws", "secret", "api", "access", "auth", "refresh", "bearer", "client", "private", "signing",
                      "token", "シークレット", "秘密", "アクセストークン", "認証", "トークン", "クライアントシークレット")
PASSWORD_STARTS = ("パスワード", "暗証番号", "pin", "pass", "pw")
PASSWORD_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?P<word>" + _PASSWORD_WORDS + r")[\"']?\s*(?P<sep>[:=→⇒]|は|is\s)\s*[\"'「『(\[]?"
    r"(?P<value>" + _PW_VALUE + ")"
)
QUERY_SECRET_RE = re.compile(
    r"(?i)[?&;#](?P<name>token|access_token|id_token|refresh_token|api_key|apikey|key|sig|signature|secret"
    r"|password|passwd|pass|pwd|pw|auth|code|x-amz-signature|x-amz-credential|x-amz-security-token"
    r"|awsaccesskeyid)=(?P<value>(?:(?![&#<>\"'])[!-~])+)"
)
PASSWORD_PARAM = frozenset({"password", "passwd", "pass", "pwd", "pw"})
URL_USERINFO_RE = re.compile(r"(?i)(?<![A-Za-z0-9+.-])[a-z][a-z0-9+.-]*://(?P<value>[^/\s:@<>]+:[^/\s@<>]+)@")

# ---------------------------------------------------------------- contact data
EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}(?:@|%40)"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z-])"  # digits may follow: taro@example.com090-…
)
PHONE_JP_RE = re.compile(
    r"(?:(?<![0-9+])(?:"  # grouped forms may follow a label glued to them: TEL03-1234-5678
    r"0\d{1,4}(?P<s>" + _SEP + r")\d{1,4}(?P=s)\d{3,4}"  # 090-1234-5678, 03 1234 5678, 0120-123-456
    r"|\(0\d{1,4}\) ?\d{1,4}" + _SEP + r"?\d{4}"  # (03) 1234-5678
    r"|0\d{1,4}\(\d{1,4}\)\d{3,4}"  # 03(1234)5678
    r")(?![0-9])"
    r"|(?<![0-9A-Za-z+])0[1-9]\d{8,9}(?![0-9A-Za-z])"  # 09012345678; not inside hex (g-0123456789ab)
    r")"
)
PHONE_INTL_RE = re.compile(
    r"(?<![0-9A-Za-z+])\+[1-9]\d{0,2}(?:" + _SEP + r"?(?:\(0\)|\(\d{1,4}\)|\d{1,5})){1,5}(?![0-9])"
)
PHONE_US_RE = re.compile(r"(?<![0-9A-Za-z])(?:\(\d{3}\) ?\d{3}-\d{4}|\d{3}(?P<s>[-.])\d{3}(?P=s)\d{4})(?![0-9])")
CARD_RE = re.compile(
    r"(?:(?<![0-9+])(?:"
    r"\d{4}(?P<c>[ -])\d{4}(?:(?P=c)\d{4}){1,2}(?:(?P=c)\d{1,4})?"  # 4-4-4-4, 4-4-4-4-3
    r"|\d{4}(?P<a>[ -])\d{6}(?P=a)\d{4,5}"  # Amex 4-6-5, Diners 4-6-4
    r")(?![0-9])"
    r"|(?<![0-9A-Za-z+])\d{13,19}(?![0-9A-Za-z])"  # contiguous: not a run inside a hex digest
    r")"
)
MY_NUMBER_RE = re.compile(
    r"(?<![0-9+])\d{4}(?P<m>[ -])\d{4}(?P=m)\d{4}(?![0-9])"
    r"|(?<![0-9A-Za-z+])\d{12}(?![0-9A-Za-z])"  # contiguous: not a run inside a hex digest
)
MY_NUMBER_WORDS = re.compile(r"(?i)(?:マイナンバー|個人番号|my ?number)")

# ---------------------------------------------------------------- network
IPV4_RE = re.compile(
    r"(?<![0-9.vV])(?:10|172|192|169)\.\d{1,3}\.\d{1,3}\.\d{1,3}(?:/\d{1,2})?(?![0-9]|\.[0-9])"
)
IPV6_ULA_RE = re.compile(r"(?i)(?<![0-9a-f:])f[cd][0-9a-f]{2}:[0-9a-f:]{2,36}(?:/\d{1,3})?(?![0-9a-f:])")

# ---------------------------------------------------------------- postal codes and addresses
PREFECTURES = (
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 新潟県 "
    "富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 奈良県 和歌山県 "
    "鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 "
    "鹿児島県 沖縄県"
).split()
_PREF = "(?:" + "|".join(PREFECTURES) + ")"
POSTAL_RE = re.compile(
    r"(?:〒|郵便番号\s*(?:[:は]\s*)?)\s?(?P<value>\d{3}[" + DASH + r"]?\d{4})(?![0-9])"
    r"|(?<![0-9])(?P<bare>\d{3}-\d{4})(?![0-9])(?=\s?" + _PREF + ")"
)
_KANJI = "\u4e00-\u9fff\u3005\u3006"
_NAME1 = f"[{_KANJI}\u30a1-\u30f6\u30fcヶケ]"  # kanji, katakana: where a place name starts
_NAME = f"[{_KANJI}\u30a1-\u30f6\u30fcヶケの]"  # then also の (丸の内)
_TOWN = f"[{_KANJI}\u30a1-\u30f6\u30fcヶケ\u3041-\u3096]"  # a town may be hiragana (みなとみらい: checked in detect.py)
_UNIT = "[市区町村郡]"
_NOT_PLACE = "(?!分|別|切|間|場|民|長|役|販|内|外|域|画|立|議|営|況)"  # 区分, 市場, 町内 ... are not places
_KANJI_NUM = "[一二三四五六七八九十]{1,3}"
_D = f"[{DASH}]"
_BLOCK = (
    r"(?:(?:\d{1,4}|" + _KANJI_NUM + r")丁目(?: ?\d{1,4}(?:番地?|" + _D + r")?(?: ?\d{1,4}号?)?)?"
    r"|\d{1,5}番地(?:の\d{1,4})?"
    r"|\d{1,4}番\d{1,4}号?"
    r"|\d{1,4}" + _D + r"\d{1,4}(?P<third>" + _D + r"\d{1,4})?)"
)
ADDRESS_RE = re.compile(
    r"(?P<pref>" + _PREF + r")?(?P<units>(?:(?:" + _NAME1 + _NAME + r"{0,7}|[\u3041-\u3096]{2,5})" + _UNIT
    + _NOT_PLACE + r"){1,3})(?P<town>(?:" + _TOWN + r"|\d{1,2}条)*?) ?(?P<block>" + _BLOCK + r")"
    r"(?![0-9]|[月日時分秒件個人回年%])"
)
UNIT_RE = re.compile(_UNIT)
ADDRESS_HINT_RE = re.compile(_UNIT + r"[^\n]{0,24}?(?:[0-9]|丁目)")  # cheap test before ADDRESS_RE
PREF_RE = re.compile(_PREF)


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def my_number_ok(digits: str) -> bool:
    """The check digit of a 12-digit My Number (個人番号).

    Source: 行政手続における特定の個人を識別するための番号の利用等に関する法律の規定による通知カード
    及び個人番号カード並びに情報提供ネットワークシステムによる特定個人情報の提供等に関する省令
    (平成26年総務省令第85号) 第5条 (e-Gov 法令検索, law.e-gov.go.jp): check digit = 11 − (Σ Pn×Qn mod 11),
    0 when the remainder is 0 or 1; Pn is the n-th of the first 11 digits counted from the right
    (n = 1 the lowest), Qn = n + 1 for 1 ≤ n ≤ 6 and n − 5 for 7 ≤ n ≤ 11.
    """
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = digits[:11]
    total = 0
    for n in range(1, 12):
        p = ord(body[11 - n]) - 48
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return int(digits[11]) == (0 if r <= 1 else 11 - r)
