"""``python -m stream replay --check FILE``: what a replay would send and refuse, without a broker."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from stream.tools.replay import BadLine, Format, UnusableFile, exit_status, open_events


def check_replay_file(path: Path, fmt: Format) -> int:
    """Print each invalid line as ``FILE:LINE: reason`` and a summary; the status replay would exit with."""
    try:
        events = open_events(path, fmt)
    except UnusableFile as exc:
        print(exc.where(path))
        return 2
    sources: Counter[str] = Counter()
    invalid = 0
    with events:
        for item in events.items:
            if isinstance(item, BadLine):
                invalid += 1
                print(f"{path}:{item.line}: {item.reason}")
            else:
                sources[item.source] += 1
    count = sum(sources.values())
    by_source = ", ".join(f"{source} {n}" for source, n in sources.items())
    status = exit_status(count, invalid)
    verdict = "no events" if status == 2 else f"{count} event{'s' if count != 1 else ''}"
    print(
        f"{path}: {verdict}{' (' + by_source + ')' if by_source else ''}, "
        f"{invalid} invalid line{'s' if invalid != 1 else ''}"
    )
    return status
