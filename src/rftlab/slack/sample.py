"""The bundled sample: a deterministic, generated Japanese Slack export (.zip).

Same `sample` params -> byte-identical zip (seeded `random.Random`, fixed zip
timestamps, sorted JSON). It looks like a real export: users.json with a bot,
channels.json with purposes, one folder per channel of YYYY-MM-DD.json day files,
threads (parent with replies/reply_count, replies with parent_user_id), joins,
purpose changes, bot posts, edits, file shares, a tombstone, mentions, links,
entities, e-mails/phone numbers/secrets for the scrubber. The target `U01CTO`
answers others' questions, in threads and as the next message in the channel.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import uuid
import zipfile
from collections import defaultdict
from typing import Any

from rftlab.config import SampleParams
from rftlab.io import atomic_path
from rftlab.slack import sample_text as T

TARGET = "U01CTO"
TEAM = "T01RFTLAB"
JST = dt.timezone(dt.timedelta(hours=9))
ZIP_TIME = (2025, 1, 1, 0, 0, 0)
# id, handle, real name, display name ("" = fall back to real name), title, style
HUMANS = [
    (TARGET, "musashi", "宮本 武蔵", "むさし（CTO）", "CTO", "cto"),
    ("U02HANAKO", "hanako.sato", "佐藤 花子", "はなこ", "SRE", "polite"),
    ("U03KENTA", "kenta", "鈴木 健太", "けんた", "バックエンド", "casual"),
    ("U04MAKOTO", "takahashi", "高橋 誠", "高橋", "インフラ", "terse"),
    ("U05SHO", "sho.nakamura", "中村 翔", "", "データ基盤", "neutral"),
]
BOT = ("U0BDEPLOY", "B01DEPLOY", "deploy-bot", "デプロイ通知")
CHANNELS = [
    ("C01GENERAL", "general", "全社への連絡", 0.25),
    ("C02INFRA", "dev-infra", "AWSインフラの相談・障害対応", 0.40),
    ("C03RANDOM", "random", "雑談", 0.15),
    ("C04MLPLAT", "ml-platform", "Bedrockと機械学習基盤の相談", 0.20),
]
STYLE = {h[0]: h[5] for h in HUMANS}
NAME = {h[0]: (h[3] or h[2]) for h in HUMANS}
OTHERS = [h[0] for h in HUMANS if h[0] != TARGET]
BOT_TEXTS = [
    "デプロイ完了: prod-api v1.{n}.0 :rocket:", "CloudWatchアラーム: {s} のエラー率が閾値を超えました",
    "夜間バッチ成功 ({n} 件)", "コスト通知: 今月の {s} 利用額が予算の{n}%に達しました",
]


class _Gen:
    """Builds the messages of the export event by event, in memory (a few thousand dicts)."""

    def __init__(self, p: SampleParams):
        self.p = p
        self.rng = random.Random(p.seed)
        self.seq = 0
        self.human = 0
        self.target_thread_replies = 0
        self.channel_pairs = 0
        self.days: dict[tuple[str, str], list[dict]] = defaultdict(list)

    # ------------------------------------------------------------------ helpers

    def when(self, day: int, minute: float) -> tuple[str, str]:
        t = dt.datetime.combine(self.p.start + dt.timedelta(days=day), dt.time(9, tzinfo=JST))
        t += dt.timedelta(minutes=minute)
        self.seq += 1
        return f"{int(t.timestamp())}.{self.seq % 1_000_000:06d}", t.date().isoformat()

    def pick_day(self) -> int:
        while True:
            d = self.rng.randrange(self.p.days)
            if (self.p.start + dt.timedelta(days=d)).weekday() < 5 or self.rng.random() < 0.1:
                return d

    def post(self, ch: tuple, day: int, minute: float, user: str, text: str, **extra: Any) -> dict:
        ts, date = self.when(day, minute)
        rng = self.rng
        msg: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts, "team": TEAM}
        msg["client_msg_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if rng.random() < 0.05:
            msg["edited"] = {"user": user, "ts": f"{int(float(ts)) + rng.randint(30, 900)}.000000"}
        msg.update(extra)
        self.days[(ch[1], date)].append(msg)
        if msg.get("subtype") in (None, "thread_broadcast", "file_share"):
            self.human += 1
        return msg

    def text(self, user: str, kind: str, ch: tuple, asker: str | None = None) -> str:
        rng = self.rng
        if user == TARGET:
            text = T.cto_answer(rng, NAME.get(asker or "")) if kind == "answer" else T.cto_chatter(rng)
            if kind == "answer" and rng.random() < 0.05:
                text += f"\n```aws {rng.choice(['s3 ls', 'logs tail', 'iam get-role'])} --profile prod```"
        else:
            text = T.persona_text(rng, STYLE[user], kind)
        if kind == "ask" and rng.random() < 0.3:
            text = f"<@{TARGET}> " + text
        return T.decorate(rng, text, user_ids=[h[0] for h in HUMANS], channel=(ch[0], ch[1]))

    # ------------------------------------------------------------------ events

    def thread(self, ch: tuple, day: int, asker: str, answerers: list[str], *, tombstone: bool = False) -> None:
        rng = self.rng
        minute = rng.uniform(0, 540)
        parent = self.post(ch, day, minute, asker, self.text(asker, "ask", ch))
        if tombstone:
            self.human -= 1
            parent.update(subtype="tombstone", user="USLACKBOT", text="This message was deleted.", hidden=True)
            parent.pop("client_msg_id", None)
            parent.pop("edited", None)
        ts = parent["ts"]
        replies = []
        for who in answerers:
            minute += rng.uniform(1, 45)
            kind = "answer" if who == TARGET else ("thanks" if who == asker else "chat")
            extra: dict[str, Any] = {"thread_ts": ts, "parent_user_id": asker}
            if rng.random() < 0.04:
                extra["subtype"] = "thread_broadcast"
            reply = self.post(ch, day, minute, who, self.text(who, kind, ch, asker), **extra)
            replies.append(reply)
            if who == TARGET and asker != TARGET and not tombstone:
                self.target_thread_replies += 1
        parent.update(
            thread_ts=ts, reply_count=len(replies), reply_users_count=len({r["user"] for r in replies}),
            latest_reply=replies[-1]["ts"], reply_users=sorted({r["user"] for r in replies}),
            replies=[{"user": r["user"], "ts": r["ts"]} for r in replies],
        )

    def event(self) -> None:
        rng = self.rng
        ch = rng.choices(CHANNELS, weights=[c[3] for c in CHANNELS])[0]
        day = self.pick_day()
        r = rng.random()
        if r < 0.32:  # someone asks, the CTO answers in the thread
            asker = rng.choice(OTHERS)
            chain = [TARGET] + ([TARGET] if rng.random() < 0.2 else [])
            if rng.random() < 0.6:
                chain.append(asker)
            if rng.random() < 0.2:
                chain.insert(1, rng.choice([u for u in OTHERS if u != asker]))
            if rng.random() < 0.25:
                chain.append(TARGET)
            self.thread(ch, day, asker, chain, tombstone=rng.random() < 0.01)
        elif r < 0.42:  # a question answered by the CTO as the next channel message
            asker = rng.choice(OTHERS)
            minute = rng.uniform(0, 540)
            self.post(ch, day, minute, asker, self.text(asker, "ask", ch))
            self.post(ch, day, minute + rng.uniform(0.5, 10), TARGET, self.text(TARGET, "answer", ch, asker))
            self.channel_pairs += 1
        elif r < 0.52:  # colleagues help each other
            asker, helper = rng.sample(OTHERS, 2)
            self.thread(ch, day, asker, [helper] + ([asker] if rng.random() < 0.5 else []))
        elif r < 0.55:  # a deploy bot
            text = T.fill(rng, rng.choice(BOT_TEXTS))
            ts, date = self.when(day, rng.uniform(0, 600))
            self.days[(ch[1], date)].append(
                {"type": "message", "subtype": "bot_message", "bot_id": BOT[1], "username": BOT[2], "text": text, "ts": ts}
            )
        else:  # chatter, now and then with a shared file
            user = TARGET if rng.random() < 0.25 else rng.choice(OTHERS)
            extra: dict[str, Any] = {}
            if rng.random() < 0.02:
                n = rng.randint(1, 999)
                extra = {"subtype": "file_share", "upload": True, "display_as_bot": False,
                         "files": [{"id": f"F{n:06d}", "name": f"diagram-{n}.png", "title": f"構成図{n}",
                                    "mimetype": "image/png", "filetype": "png"}]}
            self.post(ch, day, rng.uniform(0, 600), user, self.text(user, "chat", ch), **extra)

    def system(self) -> None:
        """Joins and purposes on the first day, plus a few leaks for the PII scrubber."""
        for i, ch in enumerate(CHANNELS):
            ts, date = self.when(0, -60 + i)
            self.days[(ch[1], date)].append(
                {"type": "message", "subtype": "channel_purpose", "user": TARGET, "ts": ts, "purpose": ch[2],
                 "text": f"<@{TARGET}> set the channel purpose: {ch[2]}"})
            for h in HUMANS + [(BOT[0],)]:
                ts, date = self.when(0, -50 + i)
                self.days[(ch[1], date)].append(
                    {"type": "message", "subtype": "channel_join", "user": h[0], "ts": ts,
                     "text": f"<@{h[0]}> has joined the channel"})
        leaks = [
            "ごめんなさい、トークン貼っちゃいました！ xoxb-{n}1234-5678abcdEFGH 失効させます！",
            "このURLで見れるw https://example-bucket.s3.amazonaws.com/report.csv?X-Amz-Signature=ab{n}cdef&X-Amz-Expires=300",
            "キー漏れ。AKIAABCDEFGH{n:04d}WXYZ 無効化済み。",
        ]
        for i, leak in enumerate(leaks):
            user = OTHERS[i % len(OTHERS)]
            self.post(CHANNELS[1], self.pick_day(), self.rng.uniform(0, 500), user, leak.format(n=self.rng.randint(1000, 9999)))


def generate(p: SampleParams) -> tuple[dict[tuple[str, str], list[dict]], dict[str, int]]:
    """All day files {(channel, date): records} and headline counts."""
    g = _Gen(p)
    g.system()
    while g.human < p.messages:
        g.event()
    for records in g.days.values():
        records.sort(key=lambda m: float(m["ts"]))
    stats = {
        "human_messages": g.human, "users": len(HUMANS), "channels": len(CHANNELS),
        "target_thread_replies": g.target_thread_replies, "target_channel_answers": g.channel_pairs,
        "day_files": len(g.days),
    }
    return g.days, stats


def users_json() -> list[dict]:
    out = []
    for uid, handle, real, display, title, _ in HUMANS:
        out.append({
            "id": uid, "team_id": TEAM, "name": handle, "deleted": False, "real_name": real, "tz": "Asia/Tokyo",
            "is_bot": False, "is_admin": uid == TARGET,
            "profile": {"title": title, "real_name": real, "display_name": display, "real_name_normalized": real,
                        "display_name_normalized": display, "team": TEAM},
        })
    uid, bot_id, handle, real = BOT
    out.append({"id": uid, "team_id": TEAM, "name": handle, "deleted": False, "real_name": real, "is_bot": True,
                "profile": {"bot_id": bot_id, "real_name": real, "display_name": "", "team": TEAM}})
    return out


def channels_json(start: dt.date) -> list[dict]:
    created = int(dt.datetime.combine(start, dt.time(0, tzinfo=JST)).timestamp()) - 86400
    members = [h[0] for h in HUMANS] + [BOT[0]]
    return [
        {"id": cid, "name": name, "created": created, "creator": TARGET, "is_archived": False,
         "is_general": name == "general", "members": members,
         "topic": {"value": "", "creator": "", "last_set": 0},
         "purpose": {"value": purpose, "creator": TARGET, "last_set": created}}
        for cid, name, purpose, _ in CHANNELS
    ]


def export_files(days: dict, start: Any) -> list[tuple[str, bytes | None]]:
    """The export's members in zip order: (name, bytes), folders with None."""
    files: list[tuple[str, bytes | None]] = [
        ("users.json", _dump(users_json())),
        ("channels.json", _dump(channels_json(start))),
        ("integration_logs.json", _dump([])),
    ]
    for _, name, _, _ in CHANNELS:
        files.append((f"{name}/", None))
    for (channel, date), records in days.items():
        files.append((f"{channel}/{date}.json", _dump(records)))
    return sorted(files, key=lambda f: f[0])


def write_zip(out: str | os.PathLike, files: list[tuple[str, bytes | None]]) -> None:
    """The export zip, atomically, with fixed timestamps (same files, same bytes)."""
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name, data in files:
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.external_attr = (0o40755 << 16 | 0x10) if data is None else (0o644 << 16)
                info.compress_type = zipfile.ZIP_STORED if data is None else zipfile.ZIP_DEFLATED
                zf.writestr(info, data or b"")


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=4, sort_keys=True).encode("utf-8")
