"""The one gate on library versions: the worker starts only on the versions this package was verified against.

Every other module here overrides or reads private internals of Faust (``faust-streaming``), of
``mode`` (``mode-streaming``: the ``Service.wait_first`` and queues that Faust's consumer and
channels are built on) and of aiokafka, as each module's docstring says. Private internals change
without notice between versions, and most of these changes would not raise an error: the worker
would keep running and skip records, commit offsets ahead of the table writes that rest on them,
or file table keys under the wrong partition. So rather than guessing per module, the worker
refuses to start on any other version (``stream.tools.cli``), and
``tests/unit/faust_ext/test_internals.py`` reads the installed libraries to check each assumption;
on an upgrade, run those tests, re-read what fails, then change :data:`VERIFIED`.

The versions come from the distributions' metadata: ``mode.__version__`` is not the installed
release of ``mode-streaming``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

#: Each distribution whose internals this package relies on, and the one version it was verified against.
VERIFIED: dict[str, str] = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``; None when it has no metadata (not installed as a distribution)."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def check_versions() -> str | None:
    """None when every distribution of :data:`VERIFIED` is installed at its verified version;
    otherwise one line naming the installed and the verified versions, for the worker to refuse to start with."""
    installed = {name: installed_version(name) for name in VERIFIED}
    wrong = [name for name, verified in VERIFIED.items() if installed[name] != verified]
    if not wrong:
        return None
    found = " and ".join(f"{name} {installed[name] or '(version unknown)'}" for name in wrong)
    expected = " and ".join(f"{name} {VERIFIED[name]}" for name in wrong)
    return (
        f"{found} {'is' if len(wrong) == 1 else 'are'} installed; stream.faust_ext was verified against "
        f"{expected} only (its overrides of private internals could lose data silently on another version)"
    )
