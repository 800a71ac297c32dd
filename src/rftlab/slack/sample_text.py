"""Template grammars for the sample export's personas (topic words x frames x endings).

Every text is assembled from small vocabularies with a seeded `random.Random`, so the
sample has thousands of distinct messages without copying any corpus. Each persona has
its own habits, which is what the grader must learn to tell apart:
- the CTO (target): sentences ending in ござる, conclusion first, AWS jargon;
- polite: です/ます with 「!」; casual: 「w」/「草」 and emoji; terse: short, 体言止め;
- a neutral engineer whose plain style is background noise.
"""

from __future__ import annotations

import random

SERVICES = [
    "Lambda", "S3", "IAM", "Bedrock", "CloudWatch", "ECS", "EKS", "DynamoDB", "Step Functions", "SQS",
    "SNS", "API Gateway", "RDS", "Aurora", "CloudFront", "VPC", "Fargate", "EventBridge", "KMS",
    "Secrets Manager", "CDK", "CloudFormation", "Athena", "Glue", "SageMaker", "Route 53", "ECR",
    "Cost Explorer", "Kinesis", "ElastiCache", "OpenSearch", "CodePipeline", "Systems Manager",
]
THINGS = [
    "設定", "デプロイ", "ログ", "権限", "コスト", "監視", "バックアップ", "ネットワーク", "スケーリング",
    "アラート", "タイムアウト", "リトライ", "キャッシュ", "暗号化", "タグ付け", "ダッシュボード", "クォータ",
    "ライフサイクル", "同時実行数", "コールドスタート", "プロビジョニング", "ロールバック",
]
PROBLEMS = [
    "タイムアウトする", "権限エラーが出る", "コストが急に増えた", "レイテンシが高い", "デプロイが失敗する",
    "ログが出ない", "スロットリングされる", "メモリ不足で落ちる", "接続が切れる", "アラートが鳴りやまない",
    "ステージングだけ動かない", "たまに500が返る", "ビルドが遅い", "キューが詰まる", "証明書の期限が近い",
]
ACTIONS = [
    "{s}に寄せる", "{s}で受けて{s2}に流す", "{s}のログを先に確認する", "IAMロールを最小権限で切り直す",
    "{s}のタイムアウトを延ばす", "同時実行数を絞る", "リトライをエクスポネンシャルバックオフにする",
    "{s}のメトリクスにアラームを張る", "{s}をやめて{s2}にする", "CDKでコード化する", "タグでコストを按分する",
    "{s}の前にSQSを挟む", "VPCエンドポイントを使う", "KMSのキーを分ける", "{s}の設定を見直す",
    "まず再現環境を作る", "{s}の上限緩和を申請する", "CloudWatch Logs Insightsで集計する",
    "Bedrockのモデルを軽いものに切り替える", "Fargateのタスクサイズを上げる", "S3のライフサイクルで古い物を消す",
]
REASONS = [
    "スケールを気にせずに済む", "運用コストが下がる", "権限の境界がはっきりする", "障害時の切り分けが楽になる",
    "請求が読みやすくなる", "監視が一箇所にまとまる", "再実行が安全になる", "属人化を防げる",
    "本番と検証の差が消える", "後から監査できる", "夜中に起こされずに済む", "デプロイが速くなる",
]
EVALS = ["上々", "想定どおり", "まだ荒削り", "なかなか良い", "少々高い", "思ったより速い", "実戦向き"]
COSTS = ["許容範囲", "想定内", "誤差の範囲", "月数千円程度", "むしろ下がる見込み"]
EVENTS = ["定例", "リリース", "障害振り返り", "勉強会", "採用面談", "コストレビュー", "設計レビュー", "棚卸し"]
DAYS = ["今日", "明日", "来週", "月曜", "金曜", "午後", "夕方"]
FOODS = ["ラーメン", "カレー", "寿司", "うどん", "焼肉", "蕎麦", "たこ焼き"]
EMOJI = [":+1:", ":pray:", ":eyes:", ":fire:", ":tada:", ":sweat_smile:", ":joy:", ":bow:", ":rocket:"]
DOC_LINKS = [
    ("https://docs.aws.amazon.com/lambda/latest/dg/welcome.html", "Lambdaのドキュメント"),
    ("https://docs.aws.amazon.com/bedrock/latest/userguide/what-is-bedrock.html", "Bedrockユーザーガイド"),
    ("https://aws.amazon.com/jp/s3/pricing/", "S3の料金"),
    ("https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html", "IAMベストプラクティス"),
    ("https://wiki.example.co.jp/infra/runbook", "社内ランブック"),
]
BARE_LINKS = [
    "https://status.example.co.jp/incidents/{n}", "https://github.com/example/infra/pull/{n}",
    "https://console.aws.amazon.com/cloudwatch/home?region=ap-northeast-1#dashboards:name=prod-{n}",
]


def fill(rng: random.Random, template: str) -> str:
    s, s2 = rng.sample(SERVICES, 2)
    return template.format(
        s=s, s2=s2, t=rng.choice(THINGS), p=rng.choice(PROBLEMS), r=rng.choice(REASONS),
        e=rng.choice(EVALS), c=rng.choice(COSTS), ev=rng.choice(EVENTS), d=rng.choice(DAYS), f=rng.choice(FOODS),
        a=rng.choice(ACTIONS).format(s=s, s2=s2), n=rng.randint(10, 999),
    )


# --------------------------------------------------------------------------- target (CTO)

CTO_CONCLUSIONS = [
    "結論から言うと、{a}のが良いでござる。", "結論から言うと、{a}べきでござる。", "結論：{a}でござる。",
    "結論から申すと、{a}のが正解でござるな。", "先に結論でござる。{a}でござる。", "結論、{a}一択でござる。",
    "結論から言うと、{s}は原因ではござらぬ。{a}でござる。", "結論から言うと、急ぐ話ではござらぬ。{a}で十分でござる。",
]
CTO_REASONS = [
    "理由は{r}からでござる。", "そうすれば{r}でござる。", "{s}の{t}を見れば一目瞭然でござるな。", "費用も{c}でござる。",
    "{s}で{p}のはよくある話でござる。", "拙者も以前{s}で同じ目に遭ったでござる。", "{r}のが大きいでござるな。",
    "{s}の{t}はデフォルトのままではござらぬか？", "{s}側の問題ではござらぬ。", "{s}の{t}は後回しで構わぬでござる。",
]
CTO_EXTRAS = [
    "不明点があれば聞くでござる。", "手が空いたら拙者もレビューするでござる。", "CloudWatchのアラームも忘れずにでござる。",
    "IAMは最小権限でござるぞ。", "まずは検証環境で試すでござる。", "急がば回れでござる。", "よしなにでござる。",
]
CTO_CHATTER = [
    "本日の{s}の請求、{e}でござる。", "{s}の新機能を試したでござるが、{e}でござるな。", "{ev}の資料、上げておいたでござる。",
    "{d}の{ev}は拙者も出るでござる。", "{s}の{t}、拙者が見直しておくでござる。", "皆の衆、{ev}お疲れでござった。",
    "{s}と{s2}の組み合わせ、{e}でござるな。", "昼は{f}でござる。", "{s}の{t}は放置してはならぬでござる。",
    "今期のAWS費用、{s}が一番でござる。{a}でござる。", "{ev}で話した件、結論は{a}でござる。",
]


def cto_answer(rng: random.Random, asker_name: str | None = None) -> str:
    parts = [fill(rng, rng.choice(CTO_CONCLUSIONS))]
    for reason in rng.sample(CTO_REASONS, rng.choice([0, 1, 1, 2])):
        parts.append(fill(rng, reason))
    if rng.random() < 0.3:
        parts.append(fill(rng, rng.choice(CTO_EXTRAS)))
    text = "".join(parts)
    if asker_name and rng.random() < 0.25:
        text = f"{asker_name} 殿、" + text
    return text


def cto_chatter(rng: random.Random) -> str:
    text = fill(rng, rng.choice(CTO_CHATTER))
    if rng.random() < 0.2:
        text += fill(rng, rng.choice(CTO_EXTRAS))
    return text


# --------------------------------------------------------------------------- others

PERSONAS: dict[str, dict[str, list[str]]] = {
    "polite": {
        "ask": [
            "{s}の{t}で{p}のですが、どう対応すべきでしょうか？", "質問です！{s}の{t}、{p}のですがご存知ですか？",
            "お疲れさまです！{s}で{p}ので、相談させてください！", "{s}の{t}について教えていただけますか？{p}んです！",
            "すみません、{s}の{t}で{p}件、方針をいただけますか？",
        ],
        "chat": [
            "お疲れさまです！{ev}の議事録を共有します！", "{s}の{t}、設定完了しました！確認お願いします！",
            "{d}の{ev}、会議室を予約しました！", "ありがとうございます！早速試してみます！", "{s}の勉強会、とても勉強になりました！",
            "{ev}の日程調整をお願いします！", "{s}のドキュメントを更新しました！", "{f}のお店、予約しておきます！",
        ],
        "thanks": ["ありがとうございます！やってみます！", "助かりました！{s}の{t}、見直します！", "なるほどです！勉強になります！"],
    },
    "casual": {
        "ask": [
            "{s}の{t}、{p}んだけどどうすればいい？w", "{s}また{p}んだけど草", "ちょっと聞きたいんだけど、{s}で{p}のなんで？ｗ",
            "{s}の{t}わからんすぎて草 :sweat_smile:", "{s}で{p}の、誰かわかる人いる？w",
        ],
        "chat": [
            "{s}また落ちてて草", "それなw", "{f}うまかったｗ :joy:", "{s}の請求えぐいんだがwww", "{ev}ねむすぎて草",
            "{s}の{t}、なんとかなったw :tada:", "{d}の{ev}忘れてたw", "{s}触ってたら一日終わったんだがｗ", "神対応すぎて草 :fire:",
        ],
        "thanks": ["まじ助かるｗ", "なるほどね、やってみるw :+1:", "さすがすぎて草", "おけ、{s}見てみるw"],
    },
    "terse": {
        "ask": ["{s}、{t}で{p}。対応方針は？", "{s}の{t}、{p}。判断求む。", "{p}件。{s}側？", "{s}の{t}。要相談。"],
        "chat": [
            "{s}、確認済み。", "対応完了。", "{s}の{t}、要調査。", "{d}リリース。", "了解。", "{t}の件、保留。",
            "{ev}、延期。", "{s}の{t}、修正済み。", "レビュー依頼。", "本番反映済み。",
        ],
        "thanks": ["了解。", "承知。", "対応する。", "確認した。"],
    },
    "neutral": {
        "ask": [
            "{s}の{t}について相談です。{p}ので、方針を決めたいです。", "{s}で{p}みたいなんだけど、原因わかるかな。",
            "{s}の{t}ってどうするのがいいですかね。{p}ので。",
        ],
        "chat": [
            "{ev}の資料を置いておきます。", "{s}の{t}を少し変えました。", "{d}は在宅です。", "{s}のアップデート、入れておきます。",
            "{ev}の前に{s}の{t}を確認しておきたいです。", "{f}行きませんか。",
        ],
        "thanks": ["了解です、やってみます。", "ありがとうございます。{s}の{t}を直します。", "助かります。"],
    },
}


def persona_text(rng: random.Random, style: str, kind: str) -> str:
    text = fill(rng, rng.choice(PERSONAS[style][kind]))
    if style == "casual" and rng.random() < 0.3:
        text += " " + rng.choice(EMOJI)
    if style == "polite" and rng.random() < 0.1:
        text += " :bow:"
    return text


def decorate(rng: random.Random, text: str, *, user_ids: list[str], channel: tuple[str, str]) -> str:
    """Add Slack markup now and then: mentions, channel links, links, entities, contacts, secrets."""
    r = rng.random()
    if r < 0.06:
        text = f"<@{rng.choice(user_ids)}> " + text
    elif r < 0.09:
        text += f" 詳しくは<#{channel[0]}|{channel[1]}>で。"
    elif r < 0.12:
        url, label = rng.choice(DOC_LINKS)
        text += f" <{url}|{label}>"
    elif r < 0.15:
        text += " <" + rng.choice(BARE_LINKS).format(n=rng.randint(100, 9999)) + ">"
    elif r < 0.17:
        a, b = rng.sample(SERVICES, 2)
        text += f" ({a} &amp; {b})"
    elif r < 0.18:
        text += f" 連絡先: {rng.choice(['sato', 'kenta', 'info', 'ops'])}{rng.randint(1, 99)}@example.co.jp"
    elif r < 0.19:
        text += f" 緊急時は 090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)} まで"
    elif r < 0.195:
        text += " 代表 03-" + f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
    elif r < 0.20:
        text += " <!here>"
    return text
