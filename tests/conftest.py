"""Shared test set-up: everything offline, a tiny default policy built once per session."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The test models are tiny: intra-op threads buy nothing and stall on a busy machine. Set before
# torch is imported, so the CLI subprocesses that tests start inherit it too.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def default_policy_path(tmp_path_factory):
    """A freshly built default policy (random weights, local tokenizer), shared by the session."""
    from evolver.agents.policies.default import build_default_policy

    return build_default_policy(tmp_path_factory.mktemp("policy") / "gen-000")
