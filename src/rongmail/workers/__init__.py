"""Background workers: garbage collection, indexing, reports."""
