"""The sweep keeps the objects from before it out of the cycle collector's passes, and leaves the process as it was."""

from __future__ import annotations

import gc

from marketplace.deadlines.sweeper import _collector_skips_old_objects


def test_objects_from_before_are_frozen_during_the_sweep_and_thawed_after() -> None:
    gc.unfreeze()
    gc.collect()
    with _collector_skips_old_objects():
        assert gc.get_freeze_count() > 0
        made_during = [[]]
        made_during.append(made_during)  # a cycle made by the sweep is still collectable
        del made_during
        assert gc.collect() > 0
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_its_own_objects_keeps_them_frozen() -> None:
    gc.unfreeze()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        # Frozen objects can still be freed meanwhile (the count drops a little in a busy process); what must not
        # happen is the sweep thawing them (the count back to 0).
        with _collector_skips_old_objects():
            assert gc.get_freeze_count() > frozen // 2
        assert gc.get_freeze_count() > frozen // 2
    finally:
        gc.unfreeze()
