"""The whole params.yaml (`Params`), its validation into one-line errors naming the key path, and loading."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, create_model, model_validator

from rftlab import plugins
from rftlab.config.base import PARAMS_FILE, Section
from rftlab.config.rft import RftParams, rft_model
from rftlab.config.search import SearchParams
from rftlab.config.stages import (
    BaseModelParams,
    CalibrateParams,
    CheckParams,
    EvaluateParams,
    IngestParams,
    PreflightParams,
    ProfileParams,
    PromptsParams,
    RelevanceParams,
    SampleParams,
    TrackingParams,
)
from rftlab.errors import ConfigError
from rftlab.io import project_root
from rftlab.strict_yaml import load_yaml


class Params(Section):
    tracking: TrackingParams = TrackingParams()
    sample: SampleParams = SampleParams()
    ingest: IngestParams = IngestParams()
    profile: ProfileParams = ProfileParams()
    calibrate: CalibrateParams = CalibrateParams()
    check: CheckParams = CheckParams()
    prompts: PromptsParams = PromptsParams()
    base_model: BaseModelParams = BaseModelParams()
    rft: RftParams = Field(default_factory=lambda: rft_model()())
    relevance: RelevanceParams = RelevanceParams()
    preflight: PreflightParams = PreflightParams()
    evaluate: EvaluateParams = EvaluateParams()
    search: SearchParams = SearchParams()

    @model_validator(mode="after")
    def _search_space_fits_the_backend(self) -> Params:
        """Searched names are the backend's hyperparameters, within what its API allows."""
        name = self.search.backend or self.rft.backend
        try:
            plugin = plugins.backend(name, key="search.backend" if self.search.backend else "rft.backend")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if not plugin.searchable:
            if self.search.backend:  # rft.backend's may be unsearchable: `rftlab search` says so when run
                raise ValueError(f"search.backend: {name} jobs cannot be searched ({plugin.summary})")
            return self
        known = set(type(self.rft.section(name).hyperparameters).model_fields)
        bad = [f"search.space.{k}: not a hyperparameter of the {name} backend (known: {', '.join(sorted(known))})"
               for k in sorted(set(self.search.space) - known)]
        bad += plugin.search_space_problems(self.search.space)
        if bad:
            raise ValueError("; ".join(bad))
        return self


@lru_cache(maxsize=1)
def params_model() -> type[Params]:
    """Params whose `rft` section carries a sub-section per registered backend (config/rft.py)."""
    return create_model("Params", __base__=Params, rft=(rft_model(), Field(default_factory=lambda: rft_model()())))


_EXPECTED = {
    "date_from_datetime_parsing": "expected a date",
    "date_parsing": "expected a date",
    "date_type": "expected a date",
    "date_from_datetime_inexact": "expected a date",
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "model_type": "expected a mapping",
    "dict_type": "expected a mapping",
}


def _format_error(err: dict[str, Any]) -> str:
    loc = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    if kind in _EXPECTED:
        return f"{loc}: {_EXPECTED[kind]}, got {_show(value)}"
    msg = err["msg"].removeprefix("Value error, ")
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "literal_error", "too_short"}:
        return f"{loc}: {msg.lower()}, got {_show(value)}"
    return f"{loc}: {msg}" if loc else msg


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def parse_params(data: Any, source: str = PARAMS_FILE) -> Params:
    """Validate a params mapping; raise ConfigError listing every bad key path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return params_model().model_validate(data)
    except ValidationError as exc:
        lines = [_format_error(e) for e in exc.errors()]
        raise ConfigError(f"{source}: " + "; ".join(lines)) from None
    except ConfigError as exc:  # a validator's own one-line error (a moved or renamed key)
        raise ConfigError(f"{source}: {exc}") from None


def params_path() -> Path:
    env = os.environ.get("RFTLAB_PARAMS")
    return Path(env) if env else project_root() / PARAMS_FILE


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Params:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8") from None
    return parse_params(load_yaml(text, str(path)), source=str(path))


def load_params(path: str | os.PathLike | None = None) -> Params:
    """Load and validate params.yaml; a missing file means all defaults."""
    p = Path(path) if path else params_path()
    if not p.exists():
        if path:
            raise ConfigError(f"{p}: params file not found")
        return params_model()()
    return _load(str(p.resolve()), p.stat().st_mtime)


def params_mapping(text: str | None = None, source: str = PARAMS_FILE) -> dict[str, Any]:
    """params.yaml as a plain mapping, unvalidated (the project's file, or `text`, e.g. a committed
    revision's): for comparing two revisions key by key. {} when there is no file or it is not YAML."""
    try:
        if text is None:
            path = params_path()
            text = path.read_text(encoding="utf-8") if path.exists() else ""
        data = load_yaml(text, source)
    except (OSError, UnicodeDecodeError, ConfigError):
        return {}
    return data if isinstance(data, dict) else {}
