"""The training loop's plan (kseg/training/loop.py): chunks end on checkpoint and validation
steps, and the steps per execution divide every chunk."""


def test_chunks_end_at_checkpoint_boundaries_even_after_checkpoint_every_changed():
    from kseg.training.loop import chunk_plan

    assert chunk_plan(0, 14, 4) == [(0, 3, 4), (3, 4, 2)]  # 3 chunks of 4, then 2: ends at 14
    assert chunk_plan(8, 14, 4) == [(2, 3, 4), (3, 4, 2)]
    assert chunk_plan(2, 6, 6) == [(0, 1, 4)]  # resumed at 2 with checkpoint_every 2 -> 6
    assert chunk_plan(3, 10, 4) == [(0, 1, 1), (1, 2, 4), (2, 3, 2)]
    # with validations every 4 and checkpoints every 6: chunks end at the multiples of either, not of their gcd
    plan = chunk_plan(0, 20, 6, 4)
    ends = [sum(length for _, _, length in plan[: i + 1]) for i in range(len(plan))]
    assert ends == [4, 6, 8, 12, 16, 18, 20] and [a for a, _, _ in plan] == sorted({a for a, _, _ in plan})
    assert chunk_plan(6, 20, 6, 4) == plan[2:]  # a resumed run continues the same plan
    assert chunk_plan(12, 12, 2) == []


def test_several_steps_per_execution_still_end_every_chunk_on_its_checkpoint_step():
    from kseg.training.loop import chunk_plan, execution_length

    assert execution_length(10, chunk_plan(0, 3300, 300)) == 10
    assert execution_length(10, chunk_plan(0, 14, 4)) == 2  # chunks of 4, then 2
    assert execution_length(10, chunk_plan(3, 10, 4)) == 1  # a resumed run's 1-step chunk
    assert execution_length(10, []) == 10
