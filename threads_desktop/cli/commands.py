"""Every command of `threads-desktop`, in the order its help lists them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from threads_desktop.cli import backup, bench, devices, members, network_commands, profile, serve, thread_commands
from threads_desktop.cli.registry import Registry

if TYPE_CHECKING:
    from threads_desktop.control_socket import Handler
    from threads_desktop.engine.node import Node


def registry() -> Registry:
    return Registry([*profile.COMMANDS, *thread_commands.COMMANDS, *members.COMMANDS, *network_commands.COMMANDS,
                     *devices.COMMANDS, *backup.COMMANDS,
                     *serve.COMMANDS,
                     *bench.COMMANDS])


def forwarding_handler(node: Node) -> Handler:
    """The control socket's handler for `node`: it runs these commands (call
    it on the node's thread)."""
    from threads_desktop.cli import forwarding

    return forwarding.forwarding_handler(node, registry())
