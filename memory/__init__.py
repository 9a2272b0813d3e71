"""Experience memory: the records an agent lives through, stored in Chroma and found by meaning.

Example:
    >>> from evolver.memory import ExperienceMemory
    >>> memory = ExperienceMemory(path="runs/demo/memory")  # doctest: +SKIP
"""

from typing import Any

from evolver.memory.folder import MemoryLockedError
from evolver.memory.records import Insight, Reflection, Step, Trajectory
from evolver.memory.store import ExperienceMemory, Hit, MemoryStats

__all__ = [
    "ExperienceMemory",
    "Hit",
    "Insight",
    "MemoryLockedError",
    "MemoryStats",
    "MiniLMEmbeddings",
    "Reflection",
    "Step",
    "Trajectory",
]


def __getattr__(name: str) -> Any:
    # The embeddings module imports chromadb (about a second), so it loads on first use only.
    if name == "MiniLMEmbeddings":
        from evolver.memory.embeddings import MiniLMEmbeddings

        return MiniLMEmbeddings
    raise AttributeError(f"module 'evolver.memory' has no attribute {name!r}")
