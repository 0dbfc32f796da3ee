"""Every override of a Faust or aiokafka internal, and nothing else.

Each module names the internals it relies on; ``compat`` refuses a library version they were not
verified against, and tests/unit/faust_ext/test_internals.py reads the installed libraries to check
each assumption. Why the worker goes around parts of Faust at all: docs/architecture.md.
"""
