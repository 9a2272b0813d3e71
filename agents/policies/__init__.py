"""Policies: the local Hugging Face `HFPolicy`, the hosted `LiteLLMPolicy`, and `load_policy`.

Every policy follows the `Policy` protocol: `act` chooses admissible actions for a batch of
prompts, `complete` writes text (reflections, insights, judgements).
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from evolver.agents.policies.base import ActionChoice, Policy, match_action
from evolver.agents.policies.hf import HFPolicy
from evolver.agents.policies.litellm_policy import LiteLLMPolicy

__all__ = ["ActionChoice", "HFPolicy", "LiteLLMPolicy", "Policy", "load_policy", "match_action"]

NAMED_POLICIES = ("default", "smollm2")


def load_policy(spec: str, *, cache_dir: str | Path | None = None, **kwargs: Any) -> Policy:
    """Load a policy from a short spec.

    Args:
        spec: ``"default"`` (the tiny embedded model, built into the cache on first use),
            ``"smollm2"`` (SmolLM2-135M-Instruct, converted once into the cache), a folder
            written by `save_pretrained`, a litellm model string (``openai/...``,
            ``anthropic/...``, ``ollama/...``, ``hosted_vllm/...``), or a Hugging Face model id.
        cache_dir: Where built or converted models are kept; `$EVOLVER_CACHE` or
            ``~/.cache/evolver`` by default.
        **kwargs: Passed to `HFPolicy` or `LiteLLMPolicy`.

    Example:
        >>> policy = load_policy("default")  # doctest: +SKIP
        >>> policy = load_policy("hosted_vllm/qwen", api_base="http://localhost:8000/v1")  # doctest: +SKIP
    """
    cache = Path(cache_dir or os.environ.get("EVOLVER_CACHE") or Path.home() / ".cache" / "evolver")
    if spec == "default":
        return HFPolicy(_default_policy_path(cache / "default"), name="default", **kwargs)
    if spec == "smollm2":
        from evolver.agents.policies.smollm2 import smollm2_path

        return HFPolicy(smollm2_path(cache / "smollm2"), name="smollm2", **kwargs)
    if Path(spec).is_dir():
        return HFPolicy(spec, **kwargs)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from litellm import provider_list

    if "/" in spec and spec.split("/", 1)[0] in provider_list:
        return LiteLLMPolicy(spec, **kwargs)
    try:
        return HFPolicy(spec, **kwargs)
    except OSError as err:
        close = difflib.get_close_matches(spec, NAMED_POLICIES, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        raise ValueError(
            f"Cannot load the policy `{spec}`: it is not one of {list(NAMED_POLICIES)}, not a folder, not a "
            f"litellm model string such as `openai/gpt-4o-mini`, and no Hugging Face model by that id "
            f"can be loaded ({type(err).__name__}).{hint}"
        ) from None


def _default_policy_path(path: Path) -> Path:
    """Build the default policy at `path` once; written aside and renamed so it is never half there."""
    if (path / "config.json").is_file():
        return path
    from evolver.agents.policies.default import build_default_policy

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        build_default_policy(staging / "policy")
        (staging / "policy").rename(path)
    except OSError:
        if not (path / "config.json").is_file():  # else another process built it first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
