"""What the app runs beside its node: two app engines sync over 127.0.0.1,
and CLI commands reach a running app through its control socket."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime


async def _until(engine: EngineRuntime, check: object, timeout: float = 20.0) -> None:
    """Wait until `await engine.call(check)` is true, asking again on every change set."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def on_change(_: ChangeSet) -> None:
        changed.set()

    engine.add_listener(loop, on_change)
    async with asyncio.timeout(timeout):
        while not await engine.call(check):  # type: ignore[arg-type]
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), 0.2)
            except TimeoutError:
                pass


def test_two_app_engines_sync_a_chat_over_the_network(
        two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    a, b = two_app_engines
    assert a.service_errors == [] and b.service_errors == []

    async def main() -> None:
        summary = await a.call(Node.create_thread, ThreadKind.CHAT, "Us")
        thread_id = summary.thread_id
        link = await a.call(lambda node: node.invite(thread_id, Role.WRITE).to_uri())
        await b.call(lambda node: node.join(InviteLink.parse(link)))
        await _until(b, lambda node: node.membership.pending_join(thread_id) == (False, None)
                     and node.store.own_log(thread_id) is not None
                     and any(h.seq for h in node.store.logs(thread_id) if h.log_id == node.store.own_log(thread_id)))
        await b.call(lambda node: node.chat(thread_id).post("from b's app"))
        await _until(a, lambda node: [m.data["text"] for m in node.chat(thread_id).messages.find()]
                     == ["from b's app"])

    asyncio.run(main())


def test_cli_commands_reach_the_running_app(two_app_engines: tuple[EngineRuntime, EngineRuntime],
                                            tmp_path: Path) -> None:
    a, _ = two_app_engines
    asyncio.run(a.call(Node.create_thread, ThreadKind.ALBUM, "Shown"))
    done = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(tmp_path / "a"), "ls"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Shown" in done.stdout
