"""Load and throughput benchmarks of the services, run as `python -m bench [name ...]`.

Performance is measured here and only here (the test suite has no timing asserts). Every
benchmark starts real uvicorn processes on loopback, drives them from a separate load-generator
process (`bench.loadgen`), measures its candidates side by side in interleaved rounds of one run,
prints ratios against a baseline and a target, and rewrites its own section of
`bench/RESULTS.md` together with the command that produced it.
"""
