"""The worker's broker consumer, reconnecting every second at most after an outage.

Celery's consumer reconnects with kombu's defaults: 2 s, then 4, 6, 8... up to 30 s between
attempts. After a 30 s broker outage its next attempt came about 12 s after the broker was
back (tests/test_faults.py), while the outbox relay had published everything within half a
second: the notifications then waited for the worker. Retrying every 0.2 s rising to 1 s
costs a refused connection a second while the broker is away.
"""

from celery.worker.consumer import Consumer as CeleryConsumer

RETRY_INTERVALS = {"interval_start": 0.2, "interval_step": 0.2, "interval_max": 1.0}


class Consumer(CeleryConsumer):
    def ensure_connected(self, conn):
        ensure_connection = conn.ensure_connection

        def promptly(*args, **kwargs):
            return ensure_connection(*args, **{**kwargs, **RETRY_INTERVALS})

        conn.ensure_connection = promptly
        return super().ensure_connected(conn)
