"""`threads-desktop bench log|store|sync|album-join|gui|hostile`: the benchmarks (threads_desktop/bench)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from threads_desktop.cli.registry import Command, Invocation


def _arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="bench", metavar="WHAT", required=True)
    log = kinds.add_parser("log", help="append and ingest rates of the event log")
    log.add_argument("--events", type=int, default=10_000)
    log.add_argument("--rounds", type=int, default=3, help="median of this many runs")
    log.add_argument("--json", action="store_true")
    store = kinds.add_parser("store", help="event store, photo import and album view")
    store.add_argument("--events", type=int, default=5_000)
    store.add_argument("--photos", type=int, default=24)
    store.add_argument("--album", type=int, default=10_000)
    store.add_argument("--json", action="store_true")
    sync = kinds.add_parser("sync", help="sync between two processes over 127.0.0.1")
    sync.add_argument("--events", type=int, default=10_000, help="events of the thread a new member joins")
    sync.add_argument("--big", type=int, default=100_000, help="events held when one more arrives")
    sync.add_argument("--small", type=int, default=100)
    sync.add_argument("--photos", type=int, default=200)
    sync.add_argument("--photo-bytes", type=int, default=1 << 20)
    sync.add_argument("--only-photos", action="store_true", help="measure the photos alone")
    sync.add_argument("--warm-memory", type=int, default=0, metavar="MIB",
                      help="write and free this many MiB (at most 4096) just before the photos' clock starts"
                           " (for a VM that takes freed memory back; scripts/bench-photos-vs-syncthing.py)")
    sync.add_argument("--json", action="store_true")
    reach = kinds.add_parser("reach", help="friends behind home routers, in a lab of network namespaces (root)")
    reach.add_argument("--photos", type=int, default=20)
    reach.add_argument("--photo-bytes", type=int, default=4 << 20,
                       help="about this many bytes per photo (a phone's: 3-5 MB)")
    reach.add_argument("--pairs", metavar="A/B,...",
                       help="router pairs, e.g. port_preserving/symmetric (default: six pairs)")
    reach.add_argument("--json", action="store_true")
    hostile = kinds.add_parser("hostile", help="serve under the attack of issue 17, against its quiet figures")
    hostile.add_argument("--events", type=int, default=1000, help="messages of the chat a new member joins")
    hostile.add_argument("--rounds", type=int, default=5, help="new messages timed (median)")
    hostile.add_argument("--identities", type=int, default=100, help="fresh identities holding stalled sessions")
    hostile.add_argument("--sessions", type=int, default=8, help="stalled sessions per identity")
    hostile.add_argument("--sockets", type=int, default=500, help="idle sockets re-opened as they are dropped")
    hostile.add_argument("--json", action="store_true")
    album_join = kinds.add_parser("album-join", help="a new member joins a large album (records and thumbnails)")
    album_join.add_argument("--photos", type=int, default=10_000)
    album_join.add_argument("--json", action="store_true")
    gui = kinds.add_parser("gui", help="the app with a large album, offscreen")
    gui.add_argument("--photos", type=int, default=10_000, help="photos in the album")
    gui.add_argument("--keep", metavar="FOLDER", type=Path,
                     help="build the album's profile in FOLDER once and reuse it in later runs")
    gui.add_argument("--json", action="store_true")


def _run(invocation: Invocation) -> int:
    args = invocation.args
    if args.bench == "gui":
        from threads_desktop.ui import bench_gui

        gui = bench_gui.run(max(1, args.photos), args.keep)
        print(json.dumps(gui, indent=2) if args.json else bench_gui.summary(gui))
        return 0
    if args.bench == "reach":
        return _reach(args)
    if args.bench == "album-join":
        from threads_desktop.bench import album_join

        joined = album_join.run(max(1, args.photos))
        print(json.dumps(joined, indent=2) if args.json else album_join.summary(joined))
        return 0
    if args.bench == "hostile":
        from threads_desktop.bench import hostile

        scale = hostile.Scale(max(1, args.events), max(1, args.rounds), max(0, args.identities),
                              max(0, args.sessions), max(0, args.sockets))
        result = hostile.run(scale)
        print(json.dumps(result, indent=2) if args.json else hostile.summary(result))
        return 0 if all(result["targets_met"].values()) else 1
    if args.events < 1:
        print("threads-desktop: --events must be at least 1", file=sys.stderr)
        return 2
    if args.bench == "sync":
        from threads_desktop.bench import sync

        result = sync.run(args.events, max(1, args.big), max(1, args.small), max(1, args.photos),
                          max(1024, args.photo_bytes), only_photos=args.only_photos,
                          warm_memory_mib=max(0, min(args.warm_memory, 4096)))
        print(json.dumps(result, indent=2) if args.json else sync.summary(result))
        return 0
    if args.bench == "store":
        from threads_desktop.bench import store

        result = store.run(args.events, args.photos, args.album)
        print(json.dumps(result, indent=2) if args.json else store.summary(result))
        return 0
    from threads_desktop.bench import log

    result = log.run(args.events, max(1, args.rounds))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name in ("append", "append_one_transaction_each", "ingest"):
            r = result[name]
            print(f"{name:<28} {r['events_per_second']:>8} events/s   floor {r['floor_events_per_second']:>8}"
                  f"   ratio {r['ratio_to_floor']:>5}   ({r['how']})")
    return 0


COMMANDS = (
    Command("bench", "run a benchmark", _arguments, alone=_run, uses_profile=False,
            not_forwarded="a benchmark runs on its own, not in the process serving a profile"),
)


def _reach(args: argparse.Namespace) -> int:
    from threads_desktop.bench import reach
    from threads_desktop.bench.lab import NAT_KINDS
    from threads_desktop.bench.netns import LabUnavailable

    pairs = list(reach.PAIRS)
    if args.pairs:
        kinds = {kind: kind for kind in NAT_KINDS}
        pairs = []
        for text in args.pairs.split(","):
            a, _, b = text.partition("/")
            if a not in kinds or b not in kinds:
                print(f"threads-desktop: --pairs takes A/B pairs of {', '.join(NAT_KINDS)}", file=sys.stderr)
                return 2
            pairs.append((kinds[a], kinds[b]))
    try:
        result = reach.run(max(1, args.photos), max(1024, args.photo_bytes), pairs)
    except LabUnavailable as exc:
        print(f"threads-desktop: bench reach needs {exc} (run it as root, after scripts/install-system-deps.sh)",
              file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else reach.summary(result))
    return 0
