"""bedrock-runtime Converse at the stand-in: which model ids Nova 2 Lite answers to, and the reply.

Converse takes Nova 2 Lite's inference profiles `us.amazon.nova-2-lite-v1:0` /
`global.amazon.nova-2-lite-v1:0` (or their ARNs), per the Nova 2 user guide "Core inference"
(https://docs.aws.amazon.com/nova/latest/nova2-userguide/core-inference.html), and a custom model
deployment's ARN (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-use.html).
Real Bedrock's answers to the ids people mistake for those, as reported in
https://github.com/mlcommons/modelbench/issues/1654 and https://github.com/langchain-ai/langchain-aws/issues/1019:
`amazon.nova-2-lite-v1:0:256k` (the customization id) -> "The provided model doesn't support on-demand
throughput."; `amazon.nova-2-lite-v1:0` -> "Invocation of model ID ... with on-demand throughput isn't
supported. Retry your request with the ID or ARN of an inference profile that contains this model.";
an unknown id -> ResourceNotFoundException "Model not found.". A custom model ARN is refused like the
customization id: on-demand use of a custom model goes through a deployment (or Provisioned Throughput).
The conversation rules (start with a user turn, alternate roles, no blank text) use Bedrock's messages.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from rftlab.backends.bedrock.rehearsal.deployments import Deployments
from rftlab.backends.bedrock.rehearsal.options import (
    FOUNDATION_MODEL,
    INFERENCE_PROFILES,
    RFT_BASE_MODEL,
    StandInOptions,
)
from rftlab.backends.bedrock.rehearsal.wire import ServiceError

NO_ON_DEMAND = "The provided model doesn't support on-demand throughput."
USE_PROFILE = ("Invocation of model ID {id} with on-demand throughput isn\u2019t supported. Retry your request with "
               "the ID or ARN of an inference profile that contains this model.")


class Runtime:
    def __init__(self, opts: StandInOptions, deployments: Deployments, models: dict[str, dict[str, Any]]):
        self.opts, self.deployments, self.models = opts, deployments, models
        self._lm: tuple[Any, Any] | None = None
        self._lm_lock = threading.Lock()
        self._calls = itertools.count()

    def resolve(self, model_id: str) -> str:
        """Which model answers `model_id`, or the ServiceError Bedrock gives for it."""
        profiles = {*INFERENCE_PROFILES, *(self.opts.arn("inference-profile", p) for p in INFERENCE_PROFILES)}
        if model_id in profiles:
            return "base"
        deployment = self.deployments.serving(model_id)
        if deployment is not None:
            if deployment["status"] != "Active":
                raise ServiceError("ModelNotReadyException", "The model specified in the request is not ready to "
                                   "serve inference requests.")
            return deployment["modelArn"]
        if model_id in (RFT_BASE_MODEL, self.opts.foundation_arn(RFT_BASE_MODEL)) or model_id in self.models:
            raise ServiceError("ValidationException", NO_ON_DEMAND)
        if model_id in (FOUNDATION_MODEL, self.opts.foundation_arn(FOUNDATION_MODEL)):
            raise ServiceError("ValidationException", USE_PROFILE.format(id=model_id))
        raise ServiceError("ResourceNotFoundException", "Model not found.")

    @staticmethod
    def check_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
        """Bedrock's conversation rules; returns the turns as plain {role, content} text."""
        if not messages or messages[0].get("role") != "user":
            raise ServiceError("ValidationException", "A conversation must start with a user message. Try again "
                               "with a conversation that starts with a user message.")
        turns = []
        for i, m in enumerate(messages):
            if i and m.get("role") == messages[i - 1].get("role"):
                raise ServiceError("ValidationException", "A conversation must alternate between user and "
                                   "assistant roles. Make sure the conversation alternates between user and "
                                   "assistant roles and try again.")
            texts = []
            for j, block in enumerate(m.get("content") or []):
                if "text" in block and not str(block["text"]).strip():
                    raise ServiceError("ValidationException", f"The text field in the ContentBlock object at "
                                       f"messages.{i}.content.{j} is blank. Add text to the text field, and try again.")
                texts.append(str(block.get("text", "")))
            turns.append({"role": str(m["role"]), "content": "".join(texts)})
        return turns

    def _model(self) -> tuple[Any, Any]:
        with self._lm_lock:
            if self._lm is None:
                # transformers loads only when the stand-in answers with a local model
                from transformers import AutoModelForCausalLM, AutoTokenizer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # the servers share the user's terminal
                model = AutoModelForCausalLM.from_pretrained(self.opts.model_dir, local_files_only=True).eval()
                self._lm = model, AutoTokenizer.from_pretrained(self.opts.model_dir, local_files_only=True)
            return self._lm

    def reply(self, chat: list[dict[str, str]], max_tokens: int, temperature: float) -> tuple[str, int, int, bool]:
        """(text, input tokens, output tokens, hit maxTokens): the local LM's sample, or the fixed reply
        (counted as one token per character)."""
        if self.opts.model_dir is None:
            text = self.opts.reply[:max_tokens]
            return text, sum(len(m["content"]) for m in chat), len(text), len(self.opts.reply) > max_tokens
        # torch loads only when a model is trained or sampled
        import torch

        model, tok = self._model()
        prompt = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        limit = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
        if limit and ids.shape[1] + max_tokens > limit:  # keep the end of a long conversation
            ids = ids[:, -max(1, limit - max_tokens):]
        eos = tok.eos_token_id
        with self._lm_lock, torch.no_grad():  # one generation at a time: torch on shared cores
            torch.manual_seed(self.opts.seed + next(self._calls))
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                 temperature=max(temperature, 1e-3), top_k=0, top_p=1.0, max_new_tokens=max_tokens,
                                 pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else eos,
                                 eos_token_id=eos)
        new = out[0, ids.shape[1]:].tolist()
        ended = eos is not None and eos in new
        new = new[: new.index(eos)] if ended else new
        return tok.decode(new, skip_special_tokens=True).strip(), int(ids.shape[1]), len(new), not ended

    def Converse(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        t0 = time.monotonic()
        self.resolve(p["modelId"])
        chat = self.check_messages(p.get("messages") or [])
        system = "".join(str(b.get("text", "")) for b in p.get("system") or [])
        if system:
            chat = [{"role": "system", "content": system}, *chat]
        cfg = p.get("inferenceConfig") or {}
        max_tokens = int(cfg.get("maxTokens") or 256)
        text, n_in, n_out, cut = self.reply(chat, max_tokens, float(cfg.get("temperature", 0.7)))
        return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "max_tokens" if cut else "end_turn",
                "usage": {"inputTokens": n_in, "outputTokens": n_out, "totalTokens": n_in + n_out},
                "metrics": {"latencyMs": int((time.monotonic() - t0) * 1000)}}
