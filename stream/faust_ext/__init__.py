"""Every override of a Faust or aiokafka internal, and nothing else.

Each module names the internals it relies on; ``compat`` refuses a library version they were not
verified against, and tests/faust_ext reads the installed sources to check each assumption.
"""
