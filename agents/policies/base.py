"""What every policy offers the agent: choose actions for a batch of prompts, and write text.

A policy is anything with the `Policy` methods: the local Hugging Face `HFPolicy`, the
`LiteLLMPolicy` for hosted models, or your own class (no base class to inherit).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class ActionChoice:
    """What a policy chose for one prompt.

    Args:
        action: The admissible action chosen, or None when the policy failed to choose one.
        logprob: The policy's log-probability of `action`, when it has one.
        raw: The policy's answer before it was mapped to an admissible action.
        error: Why no action was chosen (an unusable answer, a provider error), else None.
    """

    action: str | None
    logprob: float | None = None
    raw: str | None = None
    error: str | None = None


@runtime_checkable
class Policy(Protocol):
    """The interface the agent acts, reflects and judges through.

    Attributes:
        name: A short name recorded on trajectories (a model id or folder name).
        max_context_tokens: The longest prompt, in tokens, the policy reads.
    """

    name: str
    max_context_tokens: int

    def act(
        self,
        prompts: Sequence[str],
        actions: Sequence[Sequence[str]],
        *,
        temperature: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> list[ActionChoice]:
        """Choose one of `actions[i]` for every `prompts[i]`; greedy at temperature 0."""
        ...

    def complete(
        self, prompts: Sequence[str], *, max_new_tokens: int = 128, temperature: float = 0.0
    ) -> list[str]:
        """Continue every prompt with free text (reflections, insights, judgements)."""
        ...

    def count_tokens(self, text: str) -> int:
        """The number of tokens `text` takes in this policy's prompts."""
        ...


def match_action(answer: str, actions: Sequence[str]) -> ActionChoice:
    """Map a free-text answer to an admissible action: exact, then case-insensitive, then nearest.

    Only the first non-empty line of the answer counts, stripped of quotes and a final period.

    Example:
        >>> match_action("Go North.", ["go north", "go south"]).action
        'go north'
    """
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    text = lines[0].strip("\"'`*").removesuffix(".").strip() if lines else ""
    if not text:
        return ActionChoice(None, raw=answer, error="The policy gave an empty answer.")
    if text in actions:
        return ActionChoice(text, raw=answer)
    lowered = {action.lower(): action for action in reversed(actions)}
    if text.lower() in lowered:
        return ActionChoice(lowered[text.lower()], raw=answer)
    nearest = difflib.get_close_matches(text.lower(), list(lowered), n=1)
    if nearest:
        return ActionChoice(lowered[nearest[0]], raw=answer)
    return ActionChoice(
        None, raw=answer, error=f"The answer {text!r} matches no admissible action of {list(actions)}."
    )


def choose(logprobs: Sequence[float], temperature: float, rng: np.random.Generator | None) -> int:
    """Pick an index from log-likelihoods: argmax at temperature 0, else a sample of softmax(logp / T)."""
    if temperature < 0:
        raise ValueError(f"Expected `temperature` to be >= 0, got {temperature}.")
    scores = np.asarray(logprobs, dtype=np.float64)
    if temperature == 0:
        return int(np.argmax(scores))
    scaled = scores / temperature
    probs = np.exp(scaled - np.logaddexp.reduce(scaled))
    return int((rng or np.random.default_rng()).choice(len(scores), p=probs / probs.sum()))
