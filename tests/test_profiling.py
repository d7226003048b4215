"""Where a chapter's time goes: py-spy's collapsed stacks summarised per function."""

import pytest

from imssa.study.profiling import py_spy_command, read_collapsed, top_functions

STACKS = (
    "\n".join(
        [
            'process 1:"python -m imssa.study.runner";main (imssa/study/runner.py:10);'
            "_step (imssa/hardware/analog.py:300);_vmm_blocks (imssa/hardware/analog.py:384) 30",
            'process 1:"python -m imssa.study.runner";main (imssa/study/runner.py:10);'
            "_step (imssa/hardware/analog.py:310);randn (torch/random.py:5) 20",
            'process 2:"kernel";main (imssa/study/runner.py:12);_train (imssa/model/train.py:270);'
            "backward (torch/autograd/graph.py:8) 40",
            'process 2:"kernel";run (ipykernel/parentpoller.py:3);'
            "ParentPollerUnix.run (ipykernel/parentpoller.py:40) 500",
        ]
    )
    + "\n"
)


def test_top_functions_count_self_total_and_own_library_time_and_leave_waiting_threads_out(
    tmp_path,
):
    raw = tmp_path / "chapter.txt"
    raw.write_text(STACKS)
    assert read_collapsed(raw)[0] == (
        [
            "main (imssa/study/runner.py)",
            "_step (imssa/hardware/analog.py)",
            "_vmm_blocks (imssa/hardware/analog.py)",
        ],
        30,
    )
    top = top_functions(raw, rate=10).set_index("function")
    assert top.loc["backward (torch/autograd/graph.py)", "self_s"] == 4.0  # 40 samples at 10 per s
    assert "ParentPollerUnix.run (ipykernel/parentpoller.py)" not in top.index  # a waiting thread
    assert top["self_share"].sum() == pytest.approx(1.0)  # of the 90 busy samples
    lib = top_functions(raw, rate=10, by="own_s", within="imssa/").set_index("function")
    assert (
        lib.loc["_step (imssa/hardware/analog.py)", "own_s"] == 2.0
    )  # its own lines and the torch calls it makes
    assert lib.loc["_step (imssa/hardware/analog.py)", "total_s"] == 5.0
    assert (
        lib.loc["main (imssa/study/runner.py)", "own_s"] == 0.0
        and list(lib.index)[0] == "_train (imssa/model/train.py)"
    )
    with pytest.raises(ValueError, match="own_s"):
        top_functions(raw, by="own_s")
    raw.write_text(STACKS + "main (x.py:1) many\n")
    with pytest.raises(ValueError, match=r"chapter.txt:5: not a collapsed stack"):
        read_collapsed(raw)
    assert py_spy_command(tmp_path / "o.txt", ["python", "-V"])[-3:] == ["--", "python", "-V"]
