"""The platform's plumbing, shared by the apps: task base and retry policy, recorded job runs
and their lock, after-commit batching, version-token caching, the worker's database
lifecycle, JSON logs and the health endpoint. It imports neither messaging nor maintenance.
"""
