"""MLflow "model from code" of a locally tuned chat model: the file MLflow copies into the model.

Never imported by rftlab: `rftlab.tracking.tuned` passes this file's path to
`mlflow.pyfunc.save_model(python_model=...)`, and MLflow runs it when the model loads
(https://mlflow.org/docs/latest/ml/model/models-from-code/). It needs only torch and
transformers, so `mlflow.pyfunc.load_model("models:/rftlab-style@best")` works wherever those are
installed. Input: a list of prompts (or a DataFrame with a `prompt` column); output: one reply each,
sampled the way rftlab's evaluation samples (chat template, plain temperature sampling).
Params: `max_new_tokens` (32), `temperature` (1.0), `seed` (0).
"""

import mlflow
from mlflow.pyfunc import PythonModel


class TunedChatModel(PythonModel):
    def load_context(self, context):  # noqa: ANN001 (MLflow reads predict's hints: none here)
        # transformers loads only when a model is trained or sampled
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = context.artifacts["model"]
        self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        self.model.eval()

    def _prompt(self, text: str) -> str:
        messages = [{"role": "user", "content": text}]
        if getattr(self.tok, "chat_template", None):
            return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return f"user: {text}\nassistant:"

    def predict(self, context, model_input, params=None):  # noqa: ANN001
        # torch loads only when a model is trained or sampled
        import torch

        params = params or {}
        max_new = int(params.get("max_new_tokens", 32))
        temperature = float(params.get("temperature", 1.0))
        seed = int(params.get("seed", 0))
        if hasattr(model_input, "columns"):  # a DataFrame: its `prompt` column, else its first one
            column = "prompt" if "prompt" in model_input.columns else model_input.columns[0]
            prompts = [str(p) for p in model_input[column]]
        else:
            prompts = [str(p) for p in model_input]
        eos = self.tok.eos_token_id
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else (eos if eos is not None else 0)
        limit = getattr(self.model.config, "n_positions", None) or getattr(self.model.config,
                                                                           "max_position_embeddings", None)
        replies = []
        for i, text in enumerate(prompts):
            enc = self.tok(self._prompt(text), return_tensors="pt", add_special_tokens=False)
            ids = enc["input_ids"]
            mask = enc.get("attention_mask", torch.ones_like(ids))
            if limit and ids.shape[1] + max_new > limit:
                keep = max(1, limit - max_new)
                ids, mask = ids[:, -keep:], mask[:, -keep:]
            torch.manual_seed(seed * 1_000_003 + i)
            with torch.no_grad():
                out = self.model.generate(input_ids=ids, attention_mask=mask, do_sample=temperature > 0,
                                          temperature=temperature if temperature > 0 else None, top_k=0,
                                          max_new_tokens=max_new, pad_token_id=pad, eos_token_id=eos)
            replies.append(self.tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip())
        return replies


mlflow.models.set_model(TunedChatModel())
