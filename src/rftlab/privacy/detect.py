"""Find personal data and secrets in text: the one detector every part of rftlab uses.

`find(text)` returns Findings (kind + span in the ORIGINAL text). Matching runs on the NFKC form
(fold.py), with explicit ASCII edges instead of word boundaries (patterns.py), so data glued to
kana or kanji, written in full-width digits or inside brackets, URLs and code is found. Numbers
must also pass their check: Luhn for cards, the check digit for My Number, 10/11 digits for a
Japanese phone number, 8-15 for E.164, a private range for IP addresses.

Detectors run in priority order; a span that overlaps one already found is dropped (the URL
credentials `admin:pw@db.example` are one secret, not a secret plus an e-mail). Contextual kinds
(passwords, `api_key=...`, `?token=...`, URL credentials) report the value only, so a scrubber
keeps the words around it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rftlab.privacy import patterns as P
from rftlab.privacy.fold import fold, quick

KINDS: tuple[str, ...] = (
    "email", "phone", "card", "my_number", "postal_code", "address", "ip", "secret", "password",
)
SECRET_KINDS: frozenset[str] = frozenset({"secret", "password"})


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


Span = tuple[str, int, int]
_DIGIT = re.compile(r"[0-9]")
_DIGITS = re.compile(r"[^0-9]")
_HIRAGANA = re.compile("[\u3041-\u306d\u306f-\u3096]")  # hiragana but の (丸の内)
# cheap guards (literal alternations: the regex engine skips positions by their first character)
_TOKEN_HINT = re.compile("|".join(map(re.escape, (
    "xox", "xapp-", "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "gh", "github_pat_", "glpat-",
    "sk-", "sk_", "rk_", "AIza", "ya29.", "npm_", "eyJ", "hooks.slack.com", "PRIVATE KEY"))))
_WORD_HINT = re.compile("|".join(map(re.escape, P.SECRET_WORD_STARTS + P.PASSWORD_STARTS)))


def _has_secret_word(t: str) -> bool:
    return _WORD_HINT.search(t.lower()) is not None


def _has_token_prefix(t: str) -> bool:
    return _TOKEN_HINT.search(t) is not None


def _at_words(t: str, starts: tuple[str, ...], rx: re.Pattern) -> Iterator[re.Match]:
    """Matches of `rx` tried only where one of `starts` occurs (case-insensitively)."""
    low = t.lower()
    if len(low) != len(t):  # lower() changed lengths (rare letters): positions would not line up
        yield from rx.finditer(t)
        return
    positions: set[int] = set()
    for w in starts:
        i = low.find(w)
        while i != -1:
            positions.add(i)
            i = low.find(w, i + 1)
    end = -1
    for i in sorted(positions):
        if i < end:
            continue
        m = rx.match(t, i)
        if m is not None:
            end = m.end()
            yield m


def _digits(s: str) -> str:
    return _DIGITS.sub("", s)


def _tokens(t: str) -> Iterator[Span]:
    for m in P.TOKEN_RE.finditer(t):
        yield "secret", m.start(), m.end()


def _aws_secret_shape(t: str) -> Iterator[Span]:
    for m in P.AWS_SECRET_SHAPE_RE.finditer(t):
        v = m.group()
        if (any(c.isupper() for c in v) and any(c.islower() for c in v)
                and any(c.isdigit() or c in "/+" for c in v) and v.count("/") <= 4
                and not re.fullmatch(r"[0-9a-fA-F]{40}", v)):
            yield "secret", m.start(), m.end()


def _url_userinfo(t: str) -> Iterator[Span]:
    for m in P.URL_USERINFO_RE.finditer(t):
        yield "secret", m.start("value"), m.end("value")


def _query(t: str) -> Iterator[Span]:
    for m in P.QUERY_SECRET_RE.finditer(t):
        kind = "password" if m.group("name").lower() in P.PASSWORD_PARAM else "secret"
        yield kind, m.start("value"), m.end("value")


def _secretish(v: str) -> bool:
    """A value that looks generated: letters and digits mixed, or long and mixed-case."""
    has_digit, has_alpha = any(c.isdigit() for c in v), any(c.isalpha() for c in v)
    return (has_digit and has_alpha) or (len(v) >= 24 and any(c.isupper() for c in v) and any(c.islower() for c in v))


def _assigned(t: str) -> Iterator[Span]:
    for m in _at_words(t, P.SECRET_WORD_STARTS, P.ASSIGNED_SECRET_RE):
        if _secretish(m.group("value")):
            yield "secret", m.start("value"), m.end("value")


def _password(t: str) -> Iterator[Span]:
    for m in _at_words(t, P.PASSWORD_STARTS, P.PASSWORD_RE):
        v, sep = m.group("value"), m.group("sep")
        if sep in (":", "=", "→", "⇒"):
            ok = True  # `password: X` / `pw=X` names a value whatever it looks like
        else:  # `パスワードは X`, `password is X`: prose; a word (Slack, admin) is not a password
            ok = any(not c.isalpha() for c in v) or len(v) >= 12
        if ok:
            yield "password", m.start("value"), m.end("value")


def _worded(t: str) -> Iterator[Span]:
    """Values named by the words before them: passwords first, then other secrets."""
    yield from _password(t)
    yield from _assigned(t)


def _email(t: str) -> Iterator[Span]:
    for m in P.EMAIL_RE.finditer(t):
        yield "email", m.start(), m.end()


def _card(t: str) -> Iterator[Span]:
    for m in P.CARD_RE.finditer(t):
        d = _digits(m.group())
        if 13 <= len(d) <= 19 and d[0] in "23456" and len(set(d)) > 1 and P.luhn_ok(d):
            yield "card", m.start(), m.end()


def _my_number(t: str) -> Iterator[Span]:
    for m in P.MY_NUMBER_RE.finditer(t):
        s, e = m.start(), m.end()
        if s > 0 and t[s - 1] == ":" and t[e:e + 1] == ":":
            continue  # the account field of an ARN (arn:aws:iam::123456789012:role/x)
        d = _digits(m.group())
        named = P.MY_NUMBER_WORDS.search(t, max(0, s - 12), s) is not None
        if len(set(d)) > 1 and (P.my_number_ok(d) or named):
            yield "my_number", s, e


_ELEVEN = ("020", "050", "060", "070", "080", "090")  # 11-digit numbers: mobile, IP phone, pager


def _phone(t: str) -> Iterator[Span]:
    for m in P.PHONE_JP_RE.finditer(t):
        d = _digits(m.group())
        if len(d) == 10 or (len(d) == 11 and (d[:3] in _ELEVEN or d[:4] == "0800")):
            yield "phone", m.start(), m.end()
    for m in P.PHONE_INTL_RE.finditer(t):
        v = m.group()
        d = _digits(v.replace("(0)", ""))
        separated = any(c in v for c in P.DASH + ". (")
        if 10 <= len(d) <= 15 or (separated and 8 <= len(d) <= 15):
            yield "phone", m.start(), m.end()
    for m in P.PHONE_US_RE.finditer(t):
        yield "phone", m.start(), m.end()


def _private_ip(t: str) -> Iterator[Span]:
    for m in P.IPV4_RE.finditer(t):
        addr = m.group().split("/")[0]
        try:
            ip = ipaddress.IPv4Address(addr)
        except ValueError:
            continue
        if ip.is_private and not ip.is_loopback:
            yield "ip", m.start(), m.end()
    for m in P.IPV6_ULA_RE.finditer(t):
        try:
            ipaddress.IPv6Address(m.group().split("/")[0])
        except ValueError:
            continue
        yield "ip", m.start(), m.end()


def _postal(t: str) -> Iterator[Span]:
    for m in P.POSTAL_RE.finditer(t):
        g = "value" if m.group("value") else "bare"
        yield "postal_code", m.start(g), m.end(g)


_PARTICLE_TAIL = frozenset("はがをにでともへやかよりねだ")


def _address_ok(m: re.Match) -> bool:
    town, units, block = m.group("town"), m.group("units"), m.group("block")
    strong = bool(m.group("pref")) or P.PREF_RE.search(units) is not None or len(P.UNIT_RE.findall(units)) >= 2
    numbered = re.search("[丁番号]", block) is not None  # 3丁目, 10番地, 1番1号: the words say address
    if _HIRAGANA.search(town) and not (strong or numbered) and town[-1:] in _PARTICLE_TAIL:
        return False  # 大阪市では1-2 …: prose after a city name (a particle before the number), not a town
    if not town and not m.group("third") and not numbered:
        return False  # 対象地区1-2: a number after a ward word, no town name
    return True


def _address(t: str) -> Iterator[Span]:
    pos = 0
    while (m := P.ADDRESS_RE.search(t, pos)) is not None:
        if _address_ok(m):
            yield "address", m.start(), m.end()
            pos = m.end()
        else:  # a later start may still be an address (連絡先大阪府… fails as a whole, 大阪府… does not)
            pos = m.start() + 1


# (detector, guard, kinds it can report): the guard is a cheap test on the folded text; most
# messages pass none
Detector = tuple[Callable[[str], Iterator[Span]], Callable[[str], bool], frozenset[str]]
_has_digit = _DIGIT.search
_SECRET = frozenset({"secret"})
DETECTORS: tuple[Detector, ...] = (
    (_tokens, _has_token_prefix, _SECRET),
    (_url_userinfo, lambda t: "://" in t and "@" in t, _SECRET),
    (_query, lambda t: "=" in t, SECRET_KINDS),
    (_worded, _has_secret_word, SECRET_KINDS),
    (_aws_secret_shape, lambda t: len(t) >= 40, _SECRET),
    (_email, lambda t: "@" in t or "%40" in t, frozenset({"email"})),
    (_card, _has_digit, frozenset({"card"})),
    (_my_number, _has_digit, frozenset({"my_number"})),
    (_phone, _has_digit, frozenset({"phone"})),
    (_private_ip, lambda t: "." in t or ":" in t, frozenset({"ip"})),
    (_postal, _has_digit, frozenset({"postal_code"})),
    (_address, lambda t: P.ADDRESS_HINT_RE.search(t) is not None, frozenset({"address"})),
)


def _spans(t: str, kinds: frozenset[str] | None) -> list[Span]:
    taken: list[Span] = []
    for detect, guard, reports in DETECTORS:
        if (kinds is not None and not reports & kinds) or not guard(t):
            continue
        for kind, s, e in detect(t):
            if e <= s or (kinds is not None and kind not in kinds):
                continue
            if any(s < te and ts < e for _, ts, te in taken):
                continue
            taken.append((kind, s, e))
    return sorted(taken, key=lambda x: x[1])


def find(text: str, kinds: frozenset[str] | None = None) -> list[Finding]:
    """Every personal datum or secret in `text` (spans of the original text), in order."""
    if not text:
        return []
    flat = quick(text)
    spans = _spans(flat, kinds)
    if not spans:
        return []
    if flat == text:
        return [Finding(k, s, e) for k, s, e in spans]
    folded = fold(text)
    if folded.text != flat:  # cluster-wise NFKC differs (rare compositions): match on what maps back
        spans = _spans(folded.text, kinds)
    return [Finding(k, *folded.span(s, e)) for k, s, e in spans]


def kinds_in(text: str) -> list[str]:
    """The distinct kinds found in `text`, sorted."""
    return sorted({f.kind for f in find(text)})
