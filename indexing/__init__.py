"""Keeps the search engine in step with the database: change log, catch-up, rebuilds, snapshots."""
