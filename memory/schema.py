"""How records are laid out in Chroma: the scalar fields kept as metadata, the text that is
embedded, and the validation of `where` filters over those fields.

Chroma metadata holds only scalars, so every record is stored as its filterable fields plus
the whole record as JSON under the `record` key. Chroma compares values by type (an int filter
never matches a float field, `1` never matches `True`), so filters are checked and coerced
here, before Chroma sees them.
"""

from __future__ import annotations

import difflib
from typing import Any

from evolver.memory.records import Record, RecordKind, Trajectory, kind_of, to_json

SCHEMA_VERSION = 1
"""Version of the stored layout; a store written by a newer version is refused."""

KINDS: tuple[RecordKind, ...] = ("trajectory", "reflection", "insight")

FIELDS: dict[RecordKind, dict[str, type]] = {
    "trajectory": {
        "env_id": str,
        "task": str,
        "seed": int,
        "success": bool,
        "total_return": float,
        "length": int,
        "generation": int,
        "episode": int,
        "policy": str,
        "run_id": str,
        "split": str,
        "judged": bool,
        "has_error": bool,
        "created_at": float,
    },
    "reflection": {
        "trajectory_id": str,
        "env_id": str,
        "task": str,
        "success": bool,
        "run_id": str,
        "generation": int,
        "source": str,
        "created_at": float,
    },
    "insight": {
        "env_id": str,
        "run_id": str,
        "generation": int,
        "created_at": float,
    },
}
"""The filterable fields of each record kind, with their types."""

FIRST_ACTIONS = 5
"""How many opening actions a trajectory's embedded summary names."""

_COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
_ORDERINGS = ("$gt", "$gte", "$lt", "$lte")
_LOGICAL = ("$and", "$or")


def check_kind(kind: str) -> RecordKind:
    """Return `kind` if it names a record kind, else raise with a suggestion."""
    if kind not in KINDS:
        raise ValueError(f"Unknown kind `{kind}`.{_suggest(kind, KINDS)} Kinds: {', '.join(KINDS)}.")
    return kind


def metadata_of(record: Record) -> dict[str, Any]:
    """The Chroma metadata of a record: its filterable fields and the record as JSON."""
    kind = kind_of(record)
    derived = {"has_error": record.error is not None} if isinstance(record, Trajectory) else {}
    metadata = {
        name: derived[name] if name in derived else cast(getattr(record, name))
        for name, cast in FIELDS[kind].items()
    }
    metadata["record"] = to_json(record)
    return metadata


def embedding_text(record: Record) -> str:
    """The text a record is found by: a trajectory's task and a compact summary, else its text."""
    if not isinstance(record, Trajectory):
        return record.text
    if record.error is not None:
        outcome = f"failed with an error after {record.length} steps"
    else:
        outcome = f"{'succeeded' if record.success else 'failed'} in {record.length} steps"
    lines = [record.task, f"Outcome: {outcome}."]
    if record.steps:
        lines.append("First actions: " + ", ".join(record.actions[:FIRST_ACTIONS]))
    return "\n".join(lines)


def chroma_where(where: dict[str, Any] | None, kind: RecordKind) -> dict[str, Any] | None:
    """Validate a filter over the fields of `kind` and return it in Chroma's form.

    Accepts `{"field": value}` (equality), `{"field": {"$gte": 0.5, "$lte": 1}}` (several
    operators are joined with `$and`), several fields at once (joined with `$and`), and
    `{"$and": [...]}` / `{"$or": [...]}`. Float fields accept ints.

    Raises:
        ValueError: On an unknown field or operator, or a value of the wrong type.
        TypeError: When `where` is not a dict.
    """
    if where is None:
        return None
    if not isinstance(where, dict):
        raise TypeError(f"Expected `where` to be a dict, got {type(where).__name__}.")
    clauses = []
    for key, value in where.items():
        if key in _LOGICAL:
            clauses.append(_logical(key, value, kind))
        elif key.startswith("$"):
            raise ValueError(f"Unknown operator `{key}`.{_suggest(key, _LOGICAL)} Use `$and` or `$or` here.")
        else:
            clauses.extend(_field_clauses(key, value, kind))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _logical(operator: str, value: Any, kind: RecordKind) -> dict[str, Any]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"Expected `{operator}` to be a non-empty list of filters, got {value!r}.")
    clauses = [chroma_where(item, kind) for item in value]
    if None in clauses:
        raise ValueError(f"Expected every filter in `{operator}` to name a field, got {value!r}.")
    if len(clauses) == 1:
        return clauses[0]
    return {operator: clauses}


def _field_clauses(name: str, value: Any, kind: RecordKind) -> list[dict[str, Any]]:
    fields = FIELDS[kind]
    if name not in fields:
        raise ValueError(
            f"Unknown filter field `{name}` for {kind} records.{_suggest(name, fields)} "
            f"Filterable fields: {', '.join(sorted(fields))}."
        )
    if not isinstance(value, dict):
        return [{name: {"$eq": _coerce(name, value, fields[name])}}]
    if not value:
        raise ValueError(f"Expected operators for `{name}`, like {{'$gte': 1}}, got an empty dict.")
    clauses = []
    for operator, operand in value.items():
        if operator not in _COMPARISONS:
            raise ValueError(
                f"Unknown operator `{operator}` on `{name}`.{_suggest(operator, _COMPARISONS)} "
                f"Operators: {', '.join(_COMPARISONS)}."
            )
        if operator in _ORDERINGS and fields[name] not in (int, float):
            raise ValueError(
                f"Expected a numeric field for `{operator}`, got `{name}` ({fields[name].__name__}). "
                "Use `$eq`, `$ne`, `$in` or `$nin`."
            )
        if operator in ("$in", "$nin"):
            if not isinstance(operand, list | tuple) or not operand:
                raise ValueError(f"Expected `{name}` `{operator}` to be a non-empty list, got {operand!r}.")
            clauses.append({name: {operator: [_coerce(name, item, fields[name]) for item in operand]}})
        else:
            clauses.append({name: {operator: _coerce(name, operand, fields[name])}})
    return clauses


def _coerce(name: str, value: Any, expected: type) -> Any:
    # bool is an int subclass, and Chroma keeps them apart: check it first.
    if isinstance(value, bool) != (expected is bool):
        raise ValueError(_type_error(name, value, expected))
    if expected is float and isinstance(value, int | float):
        return float(value)
    if not isinstance(value, expected):
        raise ValueError(_type_error(name, value, expected))
    return value


def _type_error(name: str, value: Any, expected: type) -> str:
    return f"Expected `{name}` to be {expected.__name__}, got {value!r} ({type(value).__name__})."


def _suggest(name: str, options: Any) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" Did you mean `{close[0]}`?" if close else ""
