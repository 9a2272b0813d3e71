"""`ExperienceMemory`: trajectories, reflections and insights in Chroma, found by meaning.

One Chroma collection per record kind. Each record is stored under its deterministic id with
its filterable fields as metadata, the full record as JSON beside them, and an embedding of the
text chosen for it (`evolver.memory.schema.embedding_text`). Writes are upserts, in batches:
a write that stops half-way leaves a readable store and can simply be run again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from evolver.memory.folder import check_folder, lock_folder, unlock_folder
from evolver.memory.records import Record, RecordKind, Trajectory, from_dict, kind_of, to_dict, to_json
from evolver.memory.schema import (
    KINDS,
    SCHEMA_VERSION,
    check_kind,
    chroma_where,
    embedding_text,
    metadata_of,
)

if TYPE_CHECKING:
    from chromadb.api.types import EmbeddingFunction
    from datasets import Dataset

COLLECTIONS: dict[RecordKind, str] = {
    "trajectory": "evolver-trajectories",
    "reflection": "evolver-reflections",
    "insight": "evolver-insights",
}
_ID_PREFIXES: dict[str, RecordKind] = {"traj-": "trajectory", "refl-": "reflection", "ins-": "insight"}


@dataclass(frozen=True)
class Hit:
    """One search result: the record and its cosine distance to the query (0 is identical)."""

    record: Record
    distance: float

    @property
    def score(self) -> float:
        """Cosine similarity to the query: 1 is identical, 0 unrelated."""
        return 1.0 - self.distance


@dataclass(frozen=True)
class MemoryStats:
    """Record counts per kind, and trajectory counts per environment, generation and outcome.

    An outcome is ``"success"``, ``"failure"``, or ``"error"`` (failed on a fault).
    """

    kinds: dict[str, int] = field(default_factory=dict)
    envs: dict[str, int] = field(default_factory=dict)
    generations: dict[int, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)


class ExperienceMemory:
    """An agent's experience, stored in Chroma and recalled by meaning and by metadata.

    Open an embedded store with `path` (a folder; one process at a time) or a Chroma server
    with `url` (any number of processes; start one with `chroma run --path DIR --port 8000`).

    Args:
        path: Folder of an embedded store; created if missing.
        url: Address of a Chroma server, e.g. ``"http://localhost:8000"``.
        token: Sent as ``Authorization: Bearer <token>`` to servers that require it.
        embedding_function: Any Chroma embedding function; the packaged MiniLM by default.
        batch_size: How many records are embedded and written per Chroma call.

    Example:
        >>> from evolver.memory import ExperienceMemory
        >>> with ExperienceMemory(path="runs/demo/memory") as memory:  # doctest: +SKIP
        ...     memory.add([trajectory])
        ...     hits = memory.search("open the locked door", where={"success": True})
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        embedding_function: EmbeddingFunction | None = None,
        batch_size: int = 256,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError(
                "Expected exactly one of `path` (an embedded store) or `url` (a Chroma server), "
                f"got path={path!r} and url={url!r}."
            )
        if token is not None and url is None:
            raise ValueError("Expected `token` only with `url`: an embedded store has no authentication.")
        if batch_size <= 0:
            raise ValueError(f"Expected `batch_size` to be positive, got {batch_size}.")
        if embedding_function is None:
            from evolver.memory.embeddings import MiniLMEmbeddings

            embedding_function = MiniLMEmbeddings()
        self.path = None if path is None else Path(path)
        self.url = url
        self.embedding_function = embedding_function
        self.batch_size = batch_size
        self._client = self._connect(token) if url is not None else self._open_folder()
        try:
            self._collections = {kind: self._collection(kind) for kind in KINDS}
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        where = f"path={str(self.path)!r}" if self.path is not None else f"url={self.url!r}"
        return f"ExperienceMemory({where})"

    def __enter__(self) -> ExperienceMemory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the store (and, for an embedded one, its lock). Safe to call twice."""
        if self._client is None:
            return
        self._client.close()
        self._client = None
        if self.path is not None:
            unlock_folder(self.path)

    # Writing

    def add(self, records: Iterable[Record]) -> int:
        """Upsert records of any kinds; re-adding a record replaces it. Returns how many distinct ids were written.

        Every record is checked and serialised before anything is written.
        """
        by_kind: dict[RecordKind, dict[str, Record]] = {kind: {} for kind in KINDS}
        for record in records:
            by_kind[kind_of(record)][record.id] = record  # the last copy of an id wins
        payloads = {
            kind: [(id_, metadata_of(r)) for id_, r in items.items()] for kind, items in by_kind.items()
        }
        for kind, rows in payloads.items():
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                documents = [embedding_text(by_kind[kind][id_]) for id_, _ in batch]
                self._collections[kind].upsert(
                    ids=[id_ for id_, _ in batch],
                    embeddings=self.embedding_function(documents),
                    documents=documents,
                    metadatas=[metadata for _, metadata in batch],
                )
        return sum(len(rows) for rows in payloads.values())

    def delete_run(self, run_id: str) -> int:
        """Delete every record of one run; returns how many were deleted."""
        deleted = 0
        for kind, collection in self._collections.items():
            ids = collection.get(where=chroma_where({"run_id": run_id}, kind), include=[])["ids"]
            if ids:
                collection.delete(ids=ids)
            deleted += len(ids)
        return deleted

    # Reading

    def search(
        self,
        text: str,
        k: int = 5,
        kind: RecordKind = "trajectory",
        where: dict[str, Any] | None = None,
    ) -> list[Hit]:
        """The `k` records of `kind` closest in meaning to `text`, among those matching `where`.

        Held-out trajectories are stored too: recall should pass ``where={"split": "train", ...}``.

        Args:
            text: What to look for, e.g. the task at hand.
            k: How many hits at most.
            kind: ``"trajectory"``, ``"reflection"`` or ``"insight"``.
            where: Filter over the fields in `evolver.memory.schema.FIELDS[kind]`, e.g.
                ``{"env_id": "evolver/FrozenLake-v0", "success": True, "total_return": {"$gte": 0.5}}``.

        Returns:
            Hits, closest first.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"Expected `text` to be a non-empty query, got {text!r}.")
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"Expected `k` to be a positive int, got {k!r}.")
        filters = chroma_where(where, check_kind(kind))
        result = self._collections[kind].query(
            query_embeddings=self.embedding_function([text]),
            n_results=k,
            where=filters,
            include=["metadatas", "distances"],
        )
        return [
            Hit(from_dict(json.loads(metadata["record"])), float(distance))
            for metadata, distance in zip(result["metadatas"][0], result["distances"][0], strict=True)
        ]

    def get(self, id: str) -> Record | None:
        """The record with this id, or None if there is none."""
        kind = _kind_of_id(id)
        result = self._collections[kind].get(ids=[id], include=["metadatas"])
        return from_dict(json.loads(result["metadatas"][0]["record"])) if result["ids"] else None

    def trajectories(self, where: dict[str, Any] | None = None, limit: int | None = None) -> list[Trajectory]:
        """Trajectories matching `where`, ordered by id (run, generation, split, episode).

        Example:
            >>> memory.trajectories({"run_id": "demo", "split": "train", "success": True})  # doctest: +SKIP
        """
        if limit is not None and limit <= 0:
            raise ValueError(f"Expected `limit` to be positive or None, got {limit}.")
        collection = self._collections["trajectory"]
        filters = chroma_where(where, "trajectory")
        ids = sorted(collection.get(where=filters, include=[])["ids"])[:limit]
        if not ids:
            return []
        result = collection.get(ids=ids, include=["metadatas"])
        records = {id_: m["record"] for id_, m in zip(result["ids"], result["metadatas"], strict=True)}
        return [from_dict(json.loads(records[id_])) for id_ in ids]

    def count(self, kind: RecordKind | None = None, where: dict[str, Any] | None = None) -> int:
        """How many records (of `kind`, or of every kind) match `where`."""
        kinds = KINDS if kind is None else (check_kind(kind),)
        total = 0
        for name in kinds:
            filters = chroma_where(where, name)
            collection = self._collections[name]
            total += (
                collection.count()
                if filters is None
                else len(collection.get(where=filters, include=[])["ids"])
            )
        return total

    def stats(self) -> MemoryStats:
        """Counts per kind, and trajectory counts per environment, generation and outcome."""
        envs: Counter[str] = Counter()
        generations: Counter[int] = Counter()
        outcomes: Counter[str] = Counter()
        for _, metadata in self._metadatas("trajectory"):
            envs[metadata["env_id"]] += 1
            generations[metadata["generation"]] += 1
            outcome = "error" if metadata["has_error"] else "success" if metadata["success"] else "failure"
            outcomes[outcome] += 1
        return MemoryStats(
            kinds={kind: self._collections[kind].count() for kind in KINDS},
            envs=dict(sorted(envs.items())),
            generations=dict(sorted(generations.items())),
            outcomes=dict(sorted(outcomes.items())),
        )

    def records(self, kind: RecordKind | None = None) -> list[Record]:
        """Every record (of `kind`, or of every kind in the order trajectory, reflection, insight), by id."""
        kinds = KINDS if kind is None else (check_kind(kind),)
        records = []
        for name in kinds:
            jsons = sorted((id_, metadata["record"]) for id_, metadata in self._metadatas(name))
            records.extend(from_dict(json.loads(text)) for _, text in jsons)
        return records

    # Moving data in and out

    def export_jsonl(self, path: str | Path) -> int:
        """Write every record as one JSON line; returns how many."""
        records = self.records()
        with Path(path).open("w", encoding="utf-8") as file:
            for record in records:
                file.write(to_json(record) + "\n")
        return len(records)

    def import_jsonl(self, path: str | Path) -> int:
        """Upsert the records of a JSONL export; every line is read before anything is written."""
        records = []
        with Path(path).open(encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if line.strip():
                    records.append(_parse_record(line, f"{path}:{number}"))
        return self.add(records)

    def to_dataset(self, kind: RecordKind | None = None) -> Dataset:
        """The records as a Hugging Face dataset (`id`, `kind`, `run_id`, `env_id`, `generation`,
        `record`: the record as JSON, so nested steps round-trip exactly); `.to_parquet()` saves it."""
        from datasets import Dataset

        rows = [to_dict(record) for record in self.records(kind)]
        return Dataset.from_dict(
            {
                "id": [row["id"] for row in rows],
                "kind": [row["kind"] for row in rows],
                "run_id": [row["run_id"] for row in rows],
                "env_id": [row["env_id"] for row in rows],
                "generation": [row["generation"] for row in rows],
                "record": [json.dumps(row, ensure_ascii=False) for row in rows],
            }
        )

    def import_dataset(self, dataset: Dataset) -> int:
        """Upsert the records of a dataset made by `to_dataset` (e.g. read back from parquet)."""
        if "record" not in dataset.column_names:
            raise ValueError(
                f"Expected a `record` column (as written by `to_dataset`), got columns {dataset.column_names}."
            )
        return self.add(_parse_record(text, f"row {i}") for i, text in enumerate(dataset["record"]))

    # Internals

    def _open_folder(self) -> Any:
        import chromadb
        from chromadb.config import Settings

        check_folder(self.path)
        lock_folder(self.path)
        try:
            return chromadb.PersistentClient(
                path=str(self.path), settings=Settings(anonymized_telemetry=False)
            )
        except BaseException:
            unlock_folder(self.path)
            raise

    def _connect(self, token: str | None) -> Any:
        import chromadb
        from chromadb.config import Settings

        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Expected `url` like 'http://localhost:8000', got {self.url!r}.")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            headers=headers,
            settings=Settings(anonymized_telemetry=False),
        )

    def _collection(self, kind: RecordKind) -> Any:
        name = COLLECTIONS[kind]
        collection = self._client.get_or_create_collection(
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"evolver_schema": SCHEMA_VERSION, "evolver_kind": kind},
        )
        found = (collection.metadata or {}).get("evolver_schema")
        if found is None:
            raise ValueError(
                f"The collection `{name}` in {self!r} was not made by evolver. "
                "Use another store, or delete that collection if it is not needed."
            )
        if found > SCHEMA_VERSION:
            raise ValueError(
                f"The collection `{name}` in {self!r} has schema version {found}, newer than this "
                f"evolver reads ({SCHEMA_VERSION}). Upgrade evolver to open it."
            )
        return collection

    def _metadatas(self, kind: RecordKind, page: int = 1000) -> Iterable[tuple[str, dict[str, Any]]]:
        # Paged, so that a large store is never held twice in memory.
        collection = self._collections[kind]
        for offset in range(0, collection.count(), page):
            result = collection.get(include=["metadatas"], limit=page, offset=offset)
            yield from zip(result["ids"], result["metadatas"], strict=True)


def _kind_of_id(id: str) -> RecordKind:
    for prefix, kind in _ID_PREFIXES.items():
        if id.startswith(prefix):
            return kind
    raise ValueError(f"Expected a record id starting with {', '.join(_ID_PREFIXES)}, got {id!r}.")


def _parse_record(text: str, where: str) -> Record:
    try:
        return from_dict(json.loads(text))
    except (json.JSONDecodeError, TypeError, ValueError, KeyError) as error:
        raise ValueError(f"Expected an evolver record at {where}, got {text[:80]!r} ({error}).") from None
