"""Trainers: distil experience into the policy (SFT, DPO on TRL) and the evolution loop around it.

Example:
    >>> from evolver.trainers import Evolution, EvolutionConfig
    >>> summary = Evolution(EvolutionConfig(env="frozenlake-4x4", generations=5)).run()  # doctest: +SKIP
"""

from importlib import import_module
from typing import Any

from evolver.trainers.evolution import Callback, Evolution, EvolutionError, RunSummary
from evolver.trainers.evolution_config import EvolutionConfig

_LAZY = {  # these import torch and TRL: loaded on first use, so `evolver --help` stays fast
    "SFTDistiller": "evolver.trainers.sft",
    "SFTDistillerConfig": "evolver.trainers.sft_config",
    "DPODistiller": "evolver.trainers.dpo",
    "DPODistillerConfig": "evolver.trainers.dpo_config",
    "distill": "evolver.trainers.distill",
    "build_sft_dataset": "evolver.trainers.data",
    "build_dpo_dataset": "evolver.trainers.data",
    "build_reflection_dataset": "evolver.trainers.data",
}

__all__ = ["Callback", "Evolution", "EvolutionConfig", "EvolutionError", "RunSummary", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'evolver.trainers' has no attribute {name!r}")
