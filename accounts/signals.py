"""Signals accounts sends for the apps above it (which accounts must not import, see test_import_layers)."""

from django.dispatch import Signal

# Sent by `services.member_remove` inside its transaction, after the membership row is deleted, with
# keyword arguments `workspace`, `user` (who left) and `actor` (who removed them, or None). Receivers
# clean up what the member held in the workspace (conversations unassigns their threads); an exception
# in a receiver rolls the removal back.
member_removed = Signal()
