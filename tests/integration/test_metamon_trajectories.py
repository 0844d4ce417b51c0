"""`--save-trajectories DIR --trajectory-format metamon`: real battles on the sim engine leave
files that Metamon's reader takes (`tests/metamon_rules.py`) and our training reader reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from metamon_rules import metamon_file_violations

from arena.engines import SimEngine
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session
from battle.trajectory import read_trajectory
from training.dataset import TrajectoryDataset
from training.entities import EntityEncoder
from training.features import StateEncoder
from training.index_scan import build_index
from training.tokenizer import Vocabulary

REPO = Path(__file__).resolve().parents[2]


async def test_metamon_files_from_real_battles_read_back(tmp_path: Path) -> None:
    folder, runs = tmp_path / "trajectories", tmp_path / "runs"
    request = RunRequest(p1="random", p2="max-damage", n=2, concurrency=2, seed=11,
                         output_dir=runs, engine="sim", save_trajectories=folder,
                         trajectory_format="metamon")  # fmt: skip
    plan = plan_run(request)
    await play_session(plan, SimEngine(processes=1))
    record = finalize(plan.paths, finished=True)
    assert record is not None and record.spec.trajectory_format == "metamon"
    assert [b.error for b in record.battles] == [None, None]

    files = sorted(folder.rglob("*"))
    files = [f for f in files if f.is_file()]
    assert len(files) == 4 and all(f.parent.name == "gen9randombattle" for f in files)
    for path in files:
        assert metamon_file_violations(path) == [], path.name
    steps = sum(len(read_trajectory(f)["actions"]) for f in files)
    assert steps == len(record.decisions)

    # Our own training reader: the index, the dataset, both encoders, no unknown word.
    vocab = Vocabulary.build()
    index = build_index(folder, use_cache=False)
    assert len(index) == 4
    dataset = TrajectoryDataset(index, max_seq_len=500, encode=EntityEncoder(vocab))
    items = [dataset[i] for i in range(len(dataset))]
    assert not dataset.unreadable and all(len(item.actions) > 0 for item in items)
    assert all(int(item.actions.max()) <= 8 for item in items)
    vocab.unknown_counts.clear()
    encoder = StateEncoder(vocab)
    for path in files:
        for state in read_trajectory(path)["states"]:
            encoder.encode(state)
    assert not vocab.unknown_counts, vocab.unknown_counts.most_common(10)

    # A resume keeps the format; another one is a one-line error.
    target = str(plan.paths.record)
    assert plan_run(RunRequest(resume=target, output_dir=runs)).spec.trajectory_format == (
        "metamon"
    )
    with pytest.raises(ValueError, match=r"keeps the run's trajectory format \(metamon\)"):
        plan_run(RunRequest(resume=target, output_dir=runs, trajectory_format="lz4"))


def test_cli_trajectory_format_needs_saved_trajectories(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "main.py", "--output", str(tmp_path / "runs"),
         "--trajectory-format", "metamon"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.startswith(
        "error: --trajectory-format says how the trajectories are saved: "
        "add --save-trajectories DIR"
    ), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "runs").exists()
