"""Properties over generated records and filters: what is written is what is read, and a
filter selects exactly the records its predicate holds for."""

import json
import operator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolver.memory import ExperienceMemory, Insight, Reflection, Step, Trajectory
from evolver.memory.records import to_dict, to_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
names = st.text(min_size=1, max_size=12).filter(str.strip)
steps = st.builds(
    Step,
    observation=st.text(max_size=200),
    admissible_actions=st.lists(st.text(max_size=10), max_size=4).map(tuple),
    action=st.text(max_size=10),
    reward=numbers,
    raw_action=st.none() | st.text(max_size=10),
    logprob=st.none() | numbers,
    info=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
)
trajectories = st.builds(
    Trajectory,
    env_id=names,
    task=names,
    seed=st.integers(-(2**62), 2**62),
    steps=st.lists(steps, max_size=4).map(tuple),
    success=st.booleans(),
    run_id=st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),
    generation=st.integers(0, 999),
    episode=st.integers(0, 99999),
    split=st.sampled_from(["train", "heldout"]),
    policy=st.text(max_size=10),
    context=st.text(max_size=50),
    total_return=numbers,
    error=st.none() | st.text(max_size=20),
    judged=st.booleans(),
    judge_rationale=st.none() | st.text(max_size=20),
    created_at=numbers,
)
reflections = st.builds(
    Reflection,
    trajectory_id=st.from_regex(r"traj-[a-z]{1,5}-g00[0-9]-train-e0000[0-9]", fullmatch=True),
    env_id=names,
    task=names,
    text=names,
    success=st.booleans(),
    run_id=names,
    generation=st.integers(0, 999),
    source=st.sampled_from(["model", "heuristic"]),
    created_at=numbers,
)
insights = st.builds(
    Insight,
    env_id=names,
    text=names,
    source_ids=st.lists(names, max_size=3).map(tuple),
    run_id=names,
    generation=st.integers(0, 999),
    created_at=numbers,
)


def _embed(texts):
    return [[1.0, float(len(text) % 7), float(sum(map(ord, text)) % 11)] for text in texts]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with ExperienceMemory(tmp_path_factory.mktemp("properties"), embedding_function=_embed) as memory:
        yield memory


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=st.one_of(trajectories, reflections, insights))
def test_any_record_round_trips(store, record):
    store.add([record])

    assert store.get(record.id) == record
    assert to_json(record) == json.dumps(to_dict(record), ensure_ascii=False)


ENVS = ["evolver/Door-v0", "evolver/Lake-v0", "evolver/Taxi-v0"]
POPULATION = [
    Trajectory(
        env_id=ENVS[i % 3],
        task="t",
        seed=i,
        steps=(),
        success=i % 4 < 2,
        run_id="pop",
        generation=i % 5,
        episode=i,
        total_return=[0.0, 0.25, 0.5, 1.0][i % 4] * (i % 3),
        created_at=float(i),
    )
    for i in range(40)
]
FIELDS = {
    "env_id": (st.sampled_from(ENVS + ["evolver/None-v0"]), ("$eq", "$ne")),
    "success": (st.booleans(), ("$eq", "$ne")),
    "generation": (st.integers(-1, 5), ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")),
    "total_return": (st.sampled_from([0, 0.25, 0.5, 1, 2.0]), ("$eq", "$gt", "$gte", "$lt", "$lte")),
}
OPERATORS = {
    "$eq": operator.eq,
    "$ne": operator.ne,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


@st.composite
def conditions(draw):
    field = draw(st.sampled_from(sorted(FIELDS)))
    values, operators = FIELDS[field]
    return field, draw(st.sampled_from(operators)), draw(values)


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    with ExperienceMemory(tmp_path_factory.mktemp("population"), embedding_function=_embed) as memory:
        memory.add(POPULATION)
        yield memory


@settings(max_examples=30, deadline=None)
@given(clauses=st.lists(conditions(), min_size=1, max_size=3), either=st.booleans())
def test_a_filter_selects_exactly_what_its_predicate_holds_for(population, clauses, either):
    where = {"$or" if either else "$and": [{field: {op: value}} for field, op, value in clauses]}
    combine = any if either else all

    expected = [
        t.id
        for t in POPULATION
        if combine(OPERATORS[op](getattr(t, field), value) for field, op, value in clauses)
    ]

    assert [t.id for t in population.trajectories(where)] == sorted(expected)
    assert population.count("trajectory", where) == len(expected)
