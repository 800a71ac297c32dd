"""Chat formatting and the tokenizer of the local base model (trained here, no hub).

One chat template serves the base-model training text, GRPO's prompts and evaluation,
so the model sees at training time exactly what it is prompted with later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

SYSTEM, USER, ASSISTANT, END, PAD = "<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|pad|>"
SPECIAL_TOKENS = [PAD, END, SYSTEM, USER, ASSISTANT]

# Jinja chat template (transformers' apply_chat_template); `<|end|>` is the eos token.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}<|system|>{{ m['content'] }}<|end|>"
    "{% elif m['role'] == 'user' %}<|user|>{{ m['content'] }}<|end|>"
    "{% else %}<|assistant|>{{ m['content'] }}<|end|>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def render(messages: list[dict[str, Any]], *, add_generation_prompt: bool = False) -> str:
    """The template above in plain Python (for training text; identical output)."""
    tag = {"system": SYSTEM, "user": USER}
    out = "".join(f"{tag.get(m['role'], ASSISTANT)}{m['content']}{END}" for m in messages)
    return out + (ASSISTANT if add_generation_prompt else "")


def _ts(row: dict) -> float:
    try:
        return float(row.get("ts") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def conversation_pairs(messages: Iterable[dict]) -> list[tuple[str | None, dict]]:
    """(prompt text or None, message) for every message.

    A thread reply is paired with the message before it in its thread; any other message
    with the previous message in its channel (the shape of the prompts stage's prompts:
    a channel message answered next). The first message of a channel has no prompt.
    """
    rows = sorted(enumerate(messages), key=lambda im: (_ts(im[1]), im[0]))
    last_in: dict[tuple[str, str], str] = {}
    out: list[tuple[str | None, dict]] = []
    for _, row in rows:
        channel = str(row.get("channel") or "")
        thread = row.get("thread_ts")
        key = ("thread", f"{channel}/{thread}") if thread and thread != row.get("ts") else ("channel", channel)
        prompt = last_in.get(key) or (last_in.get(("channel", channel)) if key[0] == "thread" else None)
        out.append((prompt, row))
        last_in[key] = row["text"]
        if thread:
            last_in[("thread", f"{channel}/{thread}")] = row["text"]
        if key[0] == "channel":
            last_in[("channel", channel)] = row["text"]
    return out


def training_texts(messages: Iterable[dict], *, exclude_user: str | None = None) -> list[str]:
    """Chat-formatted training strings: user turn (when there is one) -> assistant reply."""
    texts = []
    for prompt, row in conversation_pairs(messages):
        if exclude_user is not None and row["user"] == exclude_user:
            continue
        turns = [{"role": "user", "content": prompt}] if prompt else []
        texts.append(render([*turns, {"role": "assistant", "content": row["text"]}]))
    return texts


def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """Byte-level BPE (any script, no unknown tokens) wrapped as a PreTrainedTokenizerFast."""
    # tokenizers loads only when a tokenizer is trained
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Japanese has no spaces: split only on script changes / punctuation, bytes below that.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(r"[。、！？\n]", behavior="merged_with_previous"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, eos_token=END, bos_token=END, unk_token=None,
        additional_special_tokens=[SYSTEM, USER, ASSISTANT],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    return fast


def group_by_user(messages: Iterable[dict]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for m in messages:
        counts[m["user"]] += 1
    return dict(counts)
