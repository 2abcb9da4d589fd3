"""The registry of what each part forgets of a thread we leave."""

from __future__ import annotations

from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.lifecycle import ThreadForgetters


def test_each_registered_part_forgets_the_thread_in_order_until_taken_back() -> None:
    thread_id = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, bytes(range(32)))
    forgot: list[tuple[str, ThreadId]] = []
    forgetters = ThreadForgetters()
    forgetters.register(lambda t: forgot.append(("store", t)))
    take_back = forgetters.register(lambda t: forgot.append(("network", t)))

    forgetters.forget(thread_id)
    take_back()
    forgetters.forget(thread_id)

    assert forgot == [("store", thread_id), ("network", thread_id), ("store", thread_id)]
