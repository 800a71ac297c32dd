"""The base of every params.yaml section: unknown keys refused, values strict, defaults validated."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Strict

PARAMS_FILE = "params.yaml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True)


# The two lax types: YAML gives a quoted date, and every path, as a string.
YamlDate = Annotated[dt.date, Strict(False)]
YamlPath = Annotated[Path, Strict(False)]
