"""params.yaml -> typed, validated configuration. The only module that reads params.yaml.

Every stage reads its own section. The whole file is validated before any work so a
typo in one section never surfaces halfway through `dvc repro`; errors name the key path.
Values are strict: a value of the wrong type is an error, never coerced (`scrub_pii: "off"`
is not false, `min_chars: true` is not 1); only dates and paths are read from strings, as
YAML and DVC's `-S` write them. A key given twice in one mapping is an error naming both lines.

The sections live by concern: base.py (the strict Section), stages.py (data stages, relevance,
preflight, evaluation), rft.py (the backend, prices; each backend's own section comes from its plugin), search.py, params.py (the whole
file, its errors and loading).
"""

from rftlab.config.base import PARAMS_FILE, Section, YamlDate, YamlPath
from rftlab.config.params import (
    Params,
    load_params,
    params_mapping,
    params_model,
    params_path,
    parse_params,
    project_root,
)
from rftlab.config.rft import HyperParameters, PriceParams, RftParams, rft_model
from rftlab.config.search import SearchDimension, SearchParams
from rftlab.config.stages import (
    AttackParams,
    AugmentParams,
    BaseModelParams,
    CalibrateParams,
    CheckParams,
    EvaluateParams,
    IngestParams,
    JudgeParams,
    PreflightParams,
    ProfileParams,
    PromptsParams,
    RelevanceParams,
    SampleParams,
    TrackingParams,
)

__all__ = [
    "PARAMS_FILE",
    "Section",
    "YamlDate",
    "YamlPath",
    "Params",
    "load_params",
    "params_path",
    "parse_params",
    "params_model",
    "params_mapping",
    "project_root",
    "HyperParameters",
    "PriceParams",
    "RftParams",
    "rft_model",
    "SearchDimension",
    "SearchParams",
    "TrackingParams",
    "SampleParams",
    "IngestParams",
    "ProfileParams",
    "CalibrateParams",
    "AttackParams",
    "CheckParams",
    "RelevanceParams",
    "PreflightParams",
    "AugmentParams",
    "PromptsParams",
    "BaseModelParams",
    "JudgeParams",
    "EvaluateParams",
]
