"""The transactional outbox and its relay (core/outbox.py)."""

from config.settings.env import env, non_negative, positive

# The relay wakes at each commit (LISTEN/NOTIFY); it also looks every this many seconds, in
# case a notification was lost (its LISTEN connection was being re-opened).
OUTBOX_POLL_SECONDS = env.float("OUTBOX_POLL_SECONDS", 5.0, validate=positive)
# While the broker or Redis refuses, the relay tries again after 50 ms, doubling up to this:
# what waited is published within this long of their return.
OUTBOX_RETRY_MAX_SECONDS = env.float("OUTBOX_RETRY_MAX_SECONDS", 0.5, validate=positive)
# Under load, the relay publishes one notification task per this many seconds, for every
# message sent meanwhile (the task takes their ids): fewer broker messages per send. A send
# while the relay is idle is published at once. 0 publishes each drain.
OUTBOX_TASK_LINGER_SECONDS = env.float("OUTBOX_TASK_LINGER_SECONDS", 0.02, validate=non_negative)
# When the relay is busy (commits less than 50 ms apart) it waits this long before a drain,
# so that each drain carries several writes: a few ms of latency for far fewer round trips.
OUTBOX_COALESCE_SECONDS = env.float("OUTBOX_COALESCE_SECONDS", 0.005, validate=non_negative)
# An undelivered row older than this raises an alert (jobs.check_jobs) and makes /healthz
# say "outbox: late".
OUTBOX_ALERT_AGE_SECONDS = env.int("OUTBOX_ALERT_AGE_SECONDS", 60, validate=positive)
