"""Signals the plumbing sends, for the apps to act on without the plumbing knowing them."""

from django.dispatch import Signal

# Sent in an archive batch's transaction before its rows of `sender` leave the table, with
# `pks` and `using`: the archive deletes without the model signals (maintenance.archive), so
# what must react to rows going away, such as a cache of them, listens here.
pre_archive = Signal()
# Sent in the same transaction once those rows are gone, with `pks` and `using`.
post_archive = Signal()
