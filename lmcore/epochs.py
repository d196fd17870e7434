"""Where a run's steps fall in its epochs, read back from its status and log: steps per epoch, and the
epoch a step belongs to. No torch here: run summaries and the CLI's listings use it.
"""

from __future__ import annotations


def epoch_steps_from_plan(total_steps, epochs, max_steps) -> int | None:
    """Steps in one epoch read back from a run's plan (status.json's total_steps, the config's
    epochs and max_steps): the total over the epochs when max_steps did not cut the plan short,
    else (or when a value is missing) None."""
    if not (isinstance(total_steps, int) and total_steps > 0 and isinstance(epochs, int) and epochs > 0):
        return None
    return total_steps // epochs if not max_steps or total_steps < max_steps else None


def epoch_steps_from_log(records) -> int | None:
    """Steps in one epoch read back from a run's log (metrics.jsonl records): the step of the
    validation that ends epoch 1, once a line of epoch 2 is logged. For runs whose status lacks the
    count and whose plan max_steps cut."""
    records = list(records)
    if not any(isinstance(r.get("epoch"), (int, float)) and r["epoch"] >= 2 for r in records):
        return None
    ends = [int(r["step"]) for r in records
            if r.get("kind") == "val" and r.get("epoch") == 1 and isinstance(r.get("step"), (int, float))]
    return max(ends, default=None)


def epoch_position(step, epoch, per_epoch) -> tuple[int, int] | None:
    """(the epoch of a run's last trained step, the steps of that epoch trained) from a status or a
    log line's step and epoch counter and the run's steps per epoch; None when one is unknown or
    they disagree (a fork that changed bptt counts its parent's steps in other windows). Right after
    an epoch's last step the trainer's counter already names the next epoch, which trained none of
    its steps: that is the end of the epoch before, trained whole."""
    if not all(isinstance(value, int) and value > 0 for value in (step, epoch, per_epoch)):
        return None
    done = step - (epoch - 1) * per_epoch
    if done == 0 and epoch > 1:
        return epoch - 1, per_epoch
    return (epoch, done) if 0 < done <= per_epoch else None


def checkpoint_place(epoch: int, window: int, planned: int | None) -> str:
    """Where a checkpoint's progress (its epoch counter and window within the epoch) stands in the
    plan: 'epoch 3 of 40', or 'the end of epoch 2 of 40' for one saved as an epoch ended: the trainer
    counts the next epoch once one ends, at window 0. `planned`: the epochs the plan reaches."""
    of = f" of {planned}" if planned else ""
    return f"the end of epoch {epoch - 1}{of}" if window == 0 and epoch > 1 else f"epoch {epoch}{of}"
