"""The packaged MiniLM embeddings: offline, unit length, loaded once, a proper Chroma embedding function."""

import math

import pytest

from evolver.memory import MiniLMEmbeddings
from evolver.memory.embeddings import _load_model


@pytest.mark.slow
def test_texts_embed_to_unit_vectors_that_follow_meaning():
    door, key, lake = MiniLMEmbeddings(batch_size=2)(
        ["open the locked door", "unlock the door", "cross the lake"]
    )

    assert len(door) == 384
    assert math.fsum(x * x for x in door) == pytest.approx(1.0, abs=1e-5)
    assert (
        sum(a * b for a, b in zip(door, key, strict=True))
        > sum(a * b for a, b in zip(door, lake, strict=True)) + 0.2
    )


@pytest.mark.slow
def test_the_model_is_loaded_once_per_process():
    MiniLMEmbeddings()(["a"])
    MiniLMEmbeddings(batch_size=8)(["b"])

    assert _load_model.cache_info().currsize == 1


def test_chroma_can_rebuild_it_from_its_config():
    from chromadb.utils.embedding_functions import known_embedding_functions

    embeddings = MiniLMEmbeddings(batch_size=16)
    rebuilt = known_embedding_functions[embeddings.name()].build_from_config(embeddings.get_config())

    assert (rebuilt.batch_size, rebuilt.device, rebuilt.is_legacy()) == (16, None, False)


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="Expected `batch_size` to be positive, got 0."):
        MiniLMEmbeddings(batch_size=0)
