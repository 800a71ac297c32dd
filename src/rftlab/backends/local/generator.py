"""Sampling from a causal LM in a local folder (the local backend's base and tuned models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rftlab.errors import InputError
from rftlab.generation import Completion, plain_chat
from rftlab.progress import bar
from rftlab.torch_numerics import load_torch


class LocalGenerator:
    """A causal LM in a local folder (config.json, weights, tokenizer files); never touches a hub."""

    def __init__(self, model_path: str | Path, *, name: str | None = None, progress: bool = True):
        self.path = Path(model_path)
        self.name = name or self.path.name
        self.progress = progress  # a bar per side on a terminal, else a line a minute (rftlab.progress)
        if not (self.path / "config.json").exists():
            raise InputError(f"{self.path}: not a model folder (no config.json)")
        self._tok: Any = None
        self._model: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        load_torch()  # pinned numerics, one thread: the same texts on every CPU (rftlab/torch_numerics.py)
        # transformers loads only when a model is trained or sampled
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        try:
            self._tok = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            self._model = AutoModelForCausalLM.from_pretrained(self.path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path}: cannot load model: {exc}") from None
        self._model.eval()

    def render(self, messages: list[dict]) -> str:
        """The prompt text the model sees: its chat template when it has one."""
        self._load()
        if getattr(self._tok, "chat_template", None):
            return self._tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return plain_chat(messages)

    def _ids(self) -> tuple[int, int | None]:
        eos = self._tok.eos_token_id
        if eos is None:
            eos = getattr(self._model.generation_config, "eos_token_id", None)
            if isinstance(eos, list):
                eos = eos[0] if eos else None
        pad = self._tok.pad_token_id
        if pad is None:
            pad = eos if eos is not None else 0
        return pad, eos

    def generate(
        self, prompts: list[list[dict]], *, n: int, temperature: float, max_tokens: int, seed: int
    ) -> list[list[Completion]]:
        # torch loads only when a model is trained or sampled
        import torch

        self._load()
        pad, eos = self._ids()
        limit = getattr(self._model.config, "n_positions", None) or getattr(
            self._model.config, "max_position_embeddings", None
        )
        out: list[list[Completion]] = []
        shown = bar(len(prompts), desc=f"evaluate {self.name}", unit="prompt", enabled=self.progress)
        for i, messages in enumerate(prompts):
            enc = self._tok(self.render(messages), return_tensors="pt", add_special_tokens=False)
            ids, mask = enc["input_ids"], enc.get("attention_mask")
            if mask is None:
                mask = torch.ones_like(ids)
            if limit and ids.shape[1] + max_tokens > limit:  # keep the end of a long prompt
                keep = max(1, limit - max_tokens)
                ids, mask = ids[:, -keep:], mask[:, -keep:]
            torch.manual_seed(seed * 1_000_003 + i)  # one stream per prompt: order-independent
            with torch.no_grad():
                gen = self._model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    do_sample=True,
                    temperature=temperature,
                    top_k=0,  # plain temperature sampling, as the local trainer samples
                    top_p=1.0,
                    max_new_tokens=max_tokens,
                    num_return_sequences=n,
                    pad_token_id=pad,
                    eos_token_id=eos,
                )
            completions = []
            for row in gen[:, ids.shape[1] :].tolist():
                if eos is not None and eos in row:
                    row = row[: row.index(eos)]
                text = self._tok.decode(row, skip_special_tokens=True)
                completions.append(Completion(text.strip(), int(ids.shape[1]), len(row)))
            out.append(completions)
            shown.update()
        shown.close()
        return out
