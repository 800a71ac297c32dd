"""The judges' default rubrics, shared by params.yaml's defaults (config) and the grader's own defaults for a
bundle without one (grader/relevance.py, inside the Lambda), so neither imports the other."""

from __future__ import annotations

RELEVANCE_RUBRIC = (
    "You grade whether a chat reply addresses the message it answers. Ignore tone, style, "
    "politeness and spelling. 5: answers or acts on the message directly; 3: on the topic "
    "but vague; 1: ignores the message or talks about something else. Answer only with JSON: "
    '{"score": <1-5>, "reason": "<one short sentence>"}'
)
