"""Discrete Gymnasium envs in words: `DiscreteTextEnv`, and FrozenLake, Taxi and CliffWalking through it.

Gymnasium's own ansi renders mark the agent only by colour, so each game here has its own
renderer: a grid with the agent as a letter, where the goal is, and what lies around.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.toy_text.cliffwalking import CliffWalkingEnv
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv, generate_random_map
from gymnasium.envs.toy_text.taxi import TaxiEnv

from evolver.envs.core import MAX_OBSERVATION_LENGTH, TextEnv


class DiscreteTextEnv(TextEnv):
    """A Gymnasium env with `Discrete` actions, in words: a renderer for its state, a name per action.

    Args:
        env: The discrete env (without a time limit: register the text env with
            `max_episode_steps`), or a function building the env of task `seed`, for games whose
            seed chooses more than the start state (a map). Either way it is reset with the task seed.
        render: Renders the inner env's current state as the observation.
        action_names: One name per action index, in the env's own order.
        task: The goal, in words.
        admissible: Returns the valid action indices in the inner env's current state. Defaults
            to the env's `info["action_mask"]` when it gives one, else every action.
        success: Whether a step with this reward and termination completed the task. Defaults
            to termination.
        max_observation_length: The longest observation the observation space admits.
        render_mode: ``"ansi"`` or None.

    Example:
        >>> from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv
        >>> env = DiscreteTextEnv(
        ...     FrozenLakeEnv(is_slippery=False),
        ...     render=lambda lake: f"You are on cell {lake.s}.",
        ...     action_names=["left", "down", "right", "up"],
        ...     task="Reach the goal.",
        ... )
        >>> env.reset(seed=0)[0]
        'You are on cell 0.'
        >>> env.step("down")[0]
        'You are on cell 4.'
    """

    def __init__(
        self,
        env: gym.Env | Callable[[int], gym.Env],
        render: Callable[[Any], str],
        action_names: Sequence[str],
        task: str,
        *,
        admissible: Callable[[Any], Sequence[int]] | None = None,
        success: Callable[[float, bool], bool] | None = None,
        max_observation_length: int = MAX_OBSERVATION_LENGTH,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(max_observation_length=max_observation_length, render_mode=render_mode)
        self._make_env = None if isinstance(env, gym.Env) else env
        self.env: gym.Env | None = env if isinstance(env, gym.Env) else None
        self._render = render
        self._action_names = list(action_names)
        self._task = task
        self._admissible = admissible
        self._succeeded = success or (lambda reward, terminated: terminated)
        self._inner_info: dict[str, Any] = {}

    def _start(self, task_seed: int) -> tuple[str, str]:
        if self._make_env is not None:
            if self.env is not None:
                self.env.close()
            self.env = self._make_env(task_seed)
        if len(self._action_names) != self.env.action_space.n:
            raise ValueError(
                f"Expected one name per action, got {len(self._action_names)} names for "
                f"{self.env.action_space.n} actions: {self._action_names}."
            )
        _, self._inner_info = self.env.reset(seed=task_seed)
        return self._task, self._render(self.env.unwrapped)

    def _admissible_actions(self) -> list[str]:
        if self._admissible is not None:
            indices = self._admissible(self.env.unwrapped)
        elif "action_mask" in self._inner_info:
            indices = np.flatnonzero(self._inner_info["action_mask"])
        else:
            indices = range(len(self._action_names))
        return [self._action_names[index] for index in indices]

    def _act(self, action: str) -> tuple[str, float, bool, bool]:
        _, reward, terminated, _, self._inner_info = self.env.step(self._action_names.index(action))
        return self._render(self.env.unwrapped), reward, terminated, self._succeeded(reward, terminated)

    def shortest_path(self) -> list[str] | None:
        """Return the fewest actions from the current state to success, or None when there is no way.

        A breadth-first search over the inner env's transition table `P` (Gymnasium's toy-text
        envs have one), following deterministic transitions only. Inadmissible moves leave
        toy-text states unchanged, so a shortest path never contains one.
        """
        table = self.env.unwrapped.P
        start = int(self.env.unwrapped.s)
        parents: dict[int, tuple[int, int] | None] = {start: None}
        frontier = deque([start])
        while frontier:
            state = frontier.popleft()
            for index, outcomes in table[state].items():
                if len(outcomes) != 1:
                    continue
                _, following, reward, done = outcomes[0]
                if self._succeeded(reward, done):
                    return self._path_to(state, parents) + [self._action_names[index]]
                if not done and following not in parents:
                    parents[following] = (state, index)
                    frontier.append(following)
        return None

    def _path_to(self, state: int, parents: dict[int, tuple[int, int] | None]) -> list[str]:
        path = []
        while parents[state] is not None:
            state, index = parents[state]
            path.append(self._action_names[index])
        return path[::-1]

    def close(self) -> None:
        if self.env is not None:
            self.env.close()


def shortest_path_oracle(env: gym.Env, seed: int) -> list[str] | None:
    """Suite oracle for `DiscreteTextEnv`s: reset to task `seed` and return `shortest_path()`."""
    env.reset(seed=seed)
    return env.unwrapped.shortest_path()


# ---- FrozenLake ---------------------------------------------------------------------------------

FROZEN_LAKE_TASK = "Walk on the frozen lake from S to the goal G without falling into a hole."
_LAKE_CELLS = {"S": "start", "F": "frozen", "H": "hole", "G": "goal"}
_LAKE_ACTIONS = ["left", "down", "right", "up"]


class FrozenLakeText(DiscreteTextEnv):
    """FrozenLake in words, on a random map chosen by the seed (non-slippery).

    The map is drawn as a grid with the agent as P, followed by where the goal is and what
    lies on each side.

    Args:
        size: The side of the square map.
        frozen_probability: The chance that a cell is frozen rather than a hole (`p` of
            Gymnasium's `generate_random_map`; every map has a path from S to G).
        render_mode: ``"ansi"`` or None.
    """

    def __init__(
        self, size: int = 4, frozen_probability: float = 0.8, render_mode: str | None = None
    ) -> None:
        if size < 2:
            raise ValueError(f"Expected `size` to be at least 2, got {size}.")
        super().__init__(
            lambda seed: FrozenLakeEnv(
                desc=generate_random_map(size, p=frozen_probability, seed=seed), is_slippery=False
            ),
            render=render_frozen_lake,
            action_names=_LAKE_ACTIONS,
            task=FROZEN_LAKE_TASK,
            admissible=lambda lake: _moves_inside(lake.s, (lake.nrow, lake.ncol), _LAKE_OFFSETS),
            success=lambda reward, terminated: terminated and reward > 0,
            render_mode=render_mode,
        )


_LAKE_OFFSETS = [(0, -1), (1, 0), (0, 1), (-1, 0)]  # left, down, right, up: FrozenLake's action order


def render_frozen_lake(lake: FrozenLakeEnv) -> str:
    """Render a FrozenLake state: the map (P the agent, . frozen), where the goal is, what is around.

    Example:
        >>> lake = FrozenLakeEnv(desc=["SFFF", "FHFH", "FFFH", "HFFG"], is_slippery=False)
        >>> lake.s = 10
        >>> print(render_frozen_lake(lake))
        S . . .
        . H . H
        . . P H
        H . . G
        You are at row 3, column 3. The goal is 1 row down and 1 column right.
        Left: frozen. Right: hole. Up: frozen. Down: frozen.
    """
    cells = lake.desc.astype(str)
    row, col = divmod(int(lake.s), lake.ncol)
    grid = [
        ["P" if (r, c) == (row, col) else cell.replace("F", ".") for c, cell in enumerate(line)]
        for r, line in enumerate(cells)
    ]
    here = cells[row, col]
    if here == "H":
        status = "You fell into a hole."
    elif here == "G":
        status = "You reached the goal."
    else:
        goal_row, goal_col = np.argwhere(cells == "G")[0]
        status = f"The goal is {offset_in_words(goal_row - row, goal_col - col)}."
    return "\n".join(
        [" ".join(line) for line in grid]
        + [f"You are at row {row + 1}, column {col + 1}. {status}", _around(cells, row, col, _LAKE_CELLS)]
    )


def offset_in_words(
    rows: int, columns: int, directions: tuple[str, str, str, str] = ("down", "up", "right", "left")
) -> str:
    """Say an offset in rows and columns, e.g. ``"1 row down and 2 columns right"`` (``"here"`` when 0, 0).

    `directions` names positive rows, negative rows, positive columns, negative columns.
    """
    down, up, right, left = directions
    parts = []
    if rows:
        parts.append(f"{abs(rows)} {'row' if abs(rows) == 1 else 'rows'} {down if rows > 0 else up}")
    if columns:
        parts.append(
            f"{abs(columns)} {'column' if abs(columns) == 1 else 'columns'} {right if columns > 0 else left}"
        )
    return " and ".join(parts) or "here"


def _around(cells: np.ndarray, row: int, col: int, names: dict[str, str]) -> str:
    """Name the cell on each side of (row, col): "Left: frozen. Right: hole. Up: wall. Down: goal."."""
    sides = []
    for side, (dr, dc) in [("Left", (0, -1)), ("Right", (0, 1)), ("Up", (-1, 0)), ("Down", (1, 0))]:
        r, c = row + dr, col + dc
        inside = 0 <= r < cells.shape[0] and 0 <= c < cells.shape[1]
        sides.append(f"{side}: {names[cells[r, c]] if inside else 'wall'}.")
    return " ".join(sides)


def _moves_inside(state: int, shape: tuple[int, int], offsets: list[tuple[int, int]]) -> list[int]:
    """The action indices whose move (a row, column offset) from `state` stays on a grid of `shape`."""
    nrow, ncol = shape
    row, col = divmod(int(state), ncol)
    return [i for i, (dr, dc) in enumerate(offsets) if 0 <= row + dr < nrow and 0 <= col + dc < ncol]


# ---- CliffWalking -------------------------------------------------------------------------------

CLIFF_WALKING_TASK = "Walk from S to the goal G along the cliff edge without stepping off the cliff C."
_CLIFF_CELLS = {"S": "start", ".": "safe", "C": "cliff", "G": "goal"}
_CLIFF_ACTIONS = ["up", "right", "down", "left"]
_CLIFF_OFFSETS = [(-1, 0), (0, 1), (1, 0), (0, -1)]  # CliffWalking's action order


class CliffWalkingText(DiscreteTextEnv):
    """CliffWalking in words: one fixed 4 x 12 map along a cliff.

    Stepping off the cliff sends the agent back to S. Every seed gives the same task, so its held-out seeds test the same map.

    Args:
        render_mode: ``"ansi"`` or None.
    """

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(
            CliffWalkingEnv(),
            render=render_cliff_walking,
            action_names=_CLIFF_ACTIONS,
            task=CLIFF_WALKING_TASK,
            admissible=lambda cliff: _moves_inside(cliff.s, cliff.shape, _CLIFF_OFFSETS),
            render_mode=render_mode,
        )


def render_cliff_walking(cliff: CliffWalkingEnv) -> str:
    """Render a CliffWalking state: the grid (P the agent, C the cliff), where the goal is, what is around."""
    nrow, ncol = cliff.shape
    cells = np.full(cliff.shape, ".")
    cells[cliff._cliff] = "C"
    cells[nrow - 1, 0] = "S"
    cells[nrow - 1, ncol - 1] = "G"
    row, col = divmod(int(cliff.s), ncol)
    grid = [
        ["P" if (r, c) == (row, col) else cell for c, cell in enumerate(line)] for r, line in enumerate(cells)
    ]
    if cells[row, col] == "G":
        status = "You reached the goal."
    else:
        status = f"The goal is {offset_in_words(nrow - 1 - row, ncol - 1 - col)}."
    return "\n".join(
        [" ".join(line) for line in grid]
        + [f"You are at row {row + 1}, column {col + 1}. {status}", _around(cells, row, col, _CLIFF_CELLS)]
    )


# ---- Taxi ---------------------------------------------------------------------------------------

TAXI_TASK = "Drive the taxi T to the passenger, pick them up, and drop them off at their destination."
_TAXI_ACTIONS = ["south", "north", "east", "west", "pick up", "drop off"]
_TAXI_COMPASS = ("south", "north", "east", "west")


class TaxiText(DiscreteTextEnv):
    """Taxi in words: the seed places the taxi, the passenger and the destination.

    The map is 5 x 5 with walls. There are 300 start states, so different seeds share tasks. Admissible actions follow
    Taxi's own action mask: no driving into walls, no pick up or drop off where it cannot happen.

    Args:
        render_mode: ``"ansi"`` or None.
    """

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(
            TaxiEnv(),
            render=render_taxi,
            action_names=_TAXI_ACTIONS,
            task=TAXI_TASK,
            render_mode=render_mode,
        )


def render_taxi(taxi: TaxiEnv) -> str:
    """Render a Taxi state: the map (T the taxi; R, G, Y, B the stops), the passenger, the destination, the walls."""
    row, col, passenger, destination = taxi.decode(int(taxi.s))
    lines = [list(line) for line in taxi.desc.astype(str)]
    lines[row + 1][2 * col + 1] = "T"
    stops = "RGYB"
    dest_row, dest_col = taxi.locs[destination]
    sentences = [f"The taxi is at row {row + 1}, column {col + 1}."]
    if passenger == destination:
        sentences.append(f"The passenger has been dropped off at their destination {stops[destination]}.")
    else:
        if passenger == 4:
            sentences.append("The passenger is in the taxi.")
        else:
            pass_row, pass_col = taxi.locs[passenger]
            where = offset_in_words(pass_row - row, pass_col - col, _TAXI_COMPASS)
            sentences.append(f"The passenger waits at {stops[passenger]} ({where}).")
        where = offset_in_words(dest_row - row, dest_col - col, _TAXI_COMPASS)
        sentences.append(f"The destination is {stops[destination]} ({where}).")
    walls = {
        "North": row > 0,
        "South": row < 4,
        "East": col < 4 and taxi.desc[row + 1, 2 * col + 2] == b":",
        "West": col > 0 and taxi.desc[row + 1, 2 * col] == b":",
    }
    around = " ".join(f"{side}: {'open' if is_open else 'wall'}." for side, is_open in walls.items())
    return "\n".join(["".join(line) for line in lines] + [" ".join(sentences), around])


def lake_map(seed: int, size: int = 4, frozen_probability: float = 0.8) -> tuple[str, ...]:
    """The FrozenLake map task `seed` plays on (rows of S, F, H, G)."""
    return tuple(generate_random_map(size, p=frozen_probability, seed=seed))


def lake_split_seeds(
    seeds: Iterable[int],
    *,
    heldout: bool,
    count: int | None = None,
    size: int = 4,
    frozen_probability: float = 0.8,
) -> tuple[int, ...]:
    """Keep the seeds whose map falls in the held-out (or the training) part of a split by map.

    Small lakes repeat maps (10,000 seeds of 4 x 4 give about 1,600 maps), so held-out seeds are
    only unseen tasks when the split is by map: a map is held out when the CRC-32 of its layout is
    a multiple of 10. The hash does not depend on difficulty, so both parts follow the same
    distribution of maps.

    Args:
        seeds: The candidate seeds, in order.
        heldout: Keep the held-out part (True) or the training part (False).
        count: Stop after this many seeds (None: all).
        size: The side of the map.
        frozen_probability: As in `FrozenLakeText`.
    """
    kept = []
    for seed in seeds:
        layout = "".join(lake_map(seed, size, frozen_probability))
        if (zlib.crc32(layout.encode()) % 10 == 0) == heldout:
            kept.append(seed)
            if len(kept) == count:
                break
    return tuple(kept)
