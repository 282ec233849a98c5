"""Messages, uploads, search, account purges and the live events."""

from config.settings.cache import REDIS_URL
from config.settings.env import env, positive, rate, redis_url

MESSAGE_MAX_LENGTH = 10_000
# Messages one person may send (a burst of replies builds a thread nobody can load).
MESSAGE_SEND_RATE = env.str("MESSAGE_SEND_RATE", "60/min", validate=rate)
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
# What may be attached, by extension: pictures (previewed), documents, archives, text. The
# file itself is only ever served as a download (messaging.attachments).
ATTACHMENT_TYPES = (
    "jpg", "jpeg", "png", "gif", "webp", "heic",
    "pdf", "txt", "md", "csv", "json", "log",
    "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "rtf",
    "zip", "gz", "tar", "7z",
    "mp3", "m4a", "ogg", "wav", "mp4", "mov", "webm",
)  # fmt: skip
# Pictures the worker previews (Pillow), and the largest it opens: beyond, a decompression
# bomb (a small file that unpacks to gigabytes) is refused unopened.
THUMBNAIL_TYPES = ("jpg", "jpeg", "png", "gif", "webp")
THUMBNAIL_SIZE = 480  # pixels, the longer side
THUMBNAIL_MAX_PIXELS = 50_000_000
# A whole upload request: the attachment and its form. Larger bodies are refused before
# they are read (core/uploads.py; the front server refuses them too).
UPLOAD_MAX_BYTES = ATTACHMENT_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "core.uploads.RequestSizeLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# An account purge deletes this many messages per transaction.
ACCOUNT_PURGE_BATCH_SIZE = env.int("ACCOUNT_PURGE_BATCH_SIZE", 1000, validate=positive)

# Full-text search of one's messages (messaging/search.py): PostgreSQL's text search
# configuration (stemming, stop words: "english", "french"...; "simple" works for every
# language). After changing it, run `manage.py search_reindex`. The newest this many matches
# are ranked and shown.
SEARCH_CONFIG = env.str("SEARCH_CONFIG", "simple")
SEARCH_MAX_RESULTS = env.int("SEARCH_MAX_RESULTS", 1000, validate=positive)
# A search that takes longer is stopped (a 400 asking for a narrower query); searches one
# person may run (then 429 with Retry-After).
SEARCH_STATEMENT_TIMEOUT_MS = env.int("SEARCH_STATEMENT_TIMEOUT_MS", 2000, validate=positive)
SEARCH_RATE = env.str("SEARCH_RATE", "30/min", validate=rate)

# Pushed to open pages and API clients over Server-Sent Events (core/events.py, served by the
# ASGI process: config/asgi.py). The log and the channel live in the broker's Redis unless
# EVENTS_REDIS_URL says otherwise.
EVENTS_REDIS_URL = env.str("EVENTS_REDIS_URL", REDIS_URL, validate=redis_url)
# Behind Sentinel, the outbox relay waits this long for a replica to hold the events it
# appended (Redis's WAIT); without one it publishes them again (a failover loses nothing).
EVENTS_REPLICATION_WAIT_MS = env.int("EVENTS_REPLICATION_WAIT_MS", 200, validate=positive)
# Each user's log keeps at most this many events, none older than this: what a client that
# reconnects can be sent of what it missed.
EVENTS_LOG_MAX_LENGTH = env.int("EVENTS_LOG_MAX_LENGTH", 1000, validate=positive)
EVENTS_LOG_MAX_AGE_SECONDS = env.int("EVENTS_LOG_MAX_AGE_SECONDS", 86400, validate=positive)
# ... and at most this many bytes of event names and data (the newest event always kept):
# ten messages of 10,000 emoji are 1.2 MB of JSON. A replay reads at most one log.
EVENTS_LOG_MAX_BYTES = env.int("EVENTS_LOG_MAX_BYTES", 1024 * 1024, validate=positive)
# A stream's queue in its process holds at most this many bytes of events; a client slower
# than that reads the rest from the log instead.
EVENTS_QUEUE_MAX_BYTES = env.int("EVENTS_QUEUE_MAX_BYTES", 1024 * 1024, validate=positive)
EVENTS_MAX_STREAMS_PER_USER = env.int("EVENTS_MAX_STREAMS_PER_USER", 10, validate=positive)
# A comment this often keeps idle streams open through proxies; browsers come back this
# many milliseconds after a stream ends.
EVENTS_HEARTBEAT_SECONDS = env.int("EVENTS_HEARTBEAT_SECONDS", 20, validate=positive)
EVENTS_RETRY_MS = env.int("EVENTS_RETRY_MS", 3000, validate=positive)
# Tasks publish with this socket timeout: a dead Redis costs a task at most this once.
EVENTS_PUBLISH_TIMEOUT = env.float("EVENTS_PUBLISH_TIMEOUT", 1.0, validate=positive)
