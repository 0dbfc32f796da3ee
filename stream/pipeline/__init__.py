"""The running pipeline: the Faust app's assembly, its stages, topics, tables, held writes and expiry."""
