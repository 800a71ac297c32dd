"""The names rftlab promises its users (docs/contracts.md#mlflow-layout): MLflow tags, run kinds and
metric names people filter and chart by, defined once and imported everywhere. Changing one is a
breaking change for every saved view, notebook and dashboard that uses it.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------- tags
KIND = "rftlab.kind"                      # what a run is (one of RUN_KINDS)
GRADER_VERSION = "rftlab.grader_version"  # the grader bundle's content-hash version
JOB_ID = "rftlab.job_id"                  # an RFT job's id (a Bedrock job ARN, an API job id, rft-local-...)
BACKEND = "rftlab.backend"                # the backend that ran the job (rft.backend)
SPEC_HASH = "rftlab.spec_hash"            # the job spec's hash: the job a preflight or run belongs to
STUDY = "rftlab.study"                    # an Optuna study's name (calibration, search)
STUDY_KEY = "rftlab.study_key"            # a study's identity: a digest of its storage and its name

# ---------------------------------------------------------------------------- run kinds (tag rftlab.kind)
INGEST, SAMPLE, PROFILE = "ingest", "sample", "profile"
CALIBRATION, CALIBRATION_TRIAL, GRADER_CHECK = "calibration", "calibration-trial", "grader-check"
PROMPTS, BASE_MODEL, PREFLIGHT = "prompts", "base-model", "preflight"
RFT_JOB, EVALUATION, SEARCH, GRADER, COMPARISON = "rft-job", "evaluation", "search", "grader", "comparison"
RUN_KINDS = frozenset({INGEST, SAMPLE, PROFILE, CALIBRATION, CALIBRATION_TRIAL, GRADER_CHECK, PROMPTS, BASE_MODEL,
                       RFT_JOB, EVALUATION, SEARCH, GRADER, PREFLIGHT, COMPARISON})

# ---------------------------------------------------------------------------- metrics
TRAIN_REWARD_MEAN = "train/reward_mean"   # step metrics of a job: the grader's mean reward on its rollouts
TRAIN_REWARD_STD = "train/reward_std"
VAL_REWARD_MEAN = "val/reward_mean"       # ... on the validation prompts
COST_USD = "cost_usd"                     # a job's cost (an estimate where the service publishes no price)
DURATION_MIN = "duration_min"
EVAL_BASE_MEAN = "eval/base_mean"         # evaluation: mean grader score of the base and the tuned model
EVAL_TUNED_MEAN = "eval/tuned_mean"
EVAL_UPLIFT_PCT = "eval/uplift_pct"       # percent: 100 * (tuned - base) / base
EVAL_WIN_RATE = "eval/win_rate"           # 0-1: share of prompts where tuned beats base

# ---------------------------------------------------------------------------- blind human review (docs/review.md)
REVIEW = "rftlab.review"                  # on a review's traces: tuned_vs_base | tuned_vs_real
PAIR_ID = "rftlab.pair_id"                # on a review's traces: the evaluation's pair
REVIEW_ANSWER = "sounds_like_target"      # the feedback (assessment) name of every vote: A | B | cant_tell
# Metrics on the evaluation run, one prefix per review: tuned vs base, tuned vs the target's real reply.
REVIEW_PREFIX = {"tuned_vs_base": "review", "tuned_vs_real": "review_real"}
REVIEW_PREFERENCE = "preference"          # 0-1: share of votes for the tuned reply, can't tell half, mean over pairs
REVIEW_CI_LOW, REVIEW_CI_HIGH = "preference_ci_low", "preference_ci_high"  # bootstrap over pairs (95 %)
REVIEW_CANT_TELL = "cant_tell_rate"       # share of votes that were "can't tell"
REVIEW_PAIRS, REVIEW_VOTES, REVIEW_REVIEWERS = "pairs", "votes", "reviewers"
AGREEMENT, KAPPA = "agreement", "kappa"   # per rater: <rater>_agreement, <rater>_kappa (rater: grader,
                                          # verifier, judge_<source>): share of pairs ranked like the
                                          # people's majority, Cohen's kappa over {base, tie, tuned}


def review_metric(kind: str, name: str) -> str:
    """The MLflow name of a review metric: `review/preference`, `review_real/cant_tell_rate`, ..."""
    return f"{REVIEW_PREFIX[kind]}/{name}"
