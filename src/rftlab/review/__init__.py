"""Blind human review of an evaluation: `rftlab review` serves a local page where the people who know
the target pick, for each prompt, the reply that sounds like them; votes are MLflow feedback on one
trace per pair under the evaluation run; `rftlab review report` measures them (docs/review.md)."""
