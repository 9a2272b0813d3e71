"""How hard is each shipped suite? Random-policy success vs oracle success on its held-out seeds.

The random policy picks uniformly among the admissible actions (`suite.random_success`); the
oracle's actions are replayed (`suite.oracle_success`). Both play the suite's env with its step limit.

    python bench/envs.py            # 200 held-out episodes per suite (10 for TextWorld)
    python bench/envs.py --quick    # 20 (2 for TextWorld)
    python bench/envs.py --suites frozenlake-4x4 taxi
"""

from __future__ import annotations

import argparse
import time

from evolver.envs import get_suite, list_suites


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20 episodes per suite (2 for TextWorld).")
    parser.add_argument("--suites", nargs="*", help="Suites to measure (default: all).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the random policy.")
    args = parser.parse_args()

    print(
        f"{'suite':24} {'episodes':>8} {'random':>7} {'oracle':>7} {'oracle steps':>12} {'random episodes/s':>17}"
    )
    for name in args.suites or list_suites():
        suite = get_suite(name)
        episodes = (2 if args.quick else 10) if name.startswith("textworld") else (20 if args.quick else 200)
        seeds = list(suite.heldout_seeds[:episodes])
        start = time.perf_counter()
        random_success = suite.random_success(seeds, seed=args.seed)
        speed = len(seeds) / (time.perf_counter() - start)
        oracle_success = suite.oracle_success(seeds)
        if oracle_success is None:
            oracle, oracle_steps = "-", "-"
        else:
            lengths = [len(suite.oracle_actions(seed) or []) for seed in seeds]
            oracle, oracle_steps = f"{oracle_success:.3f}", f"{sum(lengths) / len(lengths):.1f}"
        print(
            f"{name:24} {len(seeds):>8} {random_success:>7.3f} {oracle:>7} {oracle_steps:>12} {speed:>17.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
