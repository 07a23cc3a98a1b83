"""The text features Postgres stores with each message (conversations.text_features)."""

import pytest

from conversations import text_features as tf
from conversations.models import Message
from conversations.tests.factories import OutboundMessageFactory

pytestmark = pytest.mark.django_db


def _features(text: str) -> int:
    message = OutboundMessageFactory(text=text)
    return Message.objects.values_list("text_features", flat=True).get(pk=message.pk)


@pytest.mark.parametrize(("text", "bits"), [
    ("ok", 0),
    ("Free on Tuesday?", tf.QUESTION),
    ("Book here: https://calendly.com/acme/intro", tf.LINK | tf.BOOKING_LINK),
    ("Pick a slot at CAL.COM/acme", tf.BOOKING_LINK),
    ("see www.acme.example", tf.LINK),
    ("The PRICE is fixed", tf.PRICE),
    ("Es 30 €", tf.PRICE),
    ("¿Cuánto cuesta?", tf.QUESTION | tf.PRICE),
    # Whole words only: "accurate" holds "rate", "costume" holds "cost".
    ("accurate costume", 0),
    ("Great 🙂", tf.EMOJI),
    ("x" * tf.SHORT_MAX, 0),
    ("x" * (tf.SHORT_MAX + 1), tf.MEDIUM),
    ("x" * tf.MEDIUM_MAX, tf.MEDIUM),
    ("x" * (tf.MEDIUM_MAX + 1), tf.LONG),
])
def test_each_feature_and_its_boundaries(text, bits):
    assert _features(text) == bits


def test_an_edited_text_gets_its_features_again():
    message = OutboundMessageFactory(text="Any questions?")
    Message.objects.filter(pk=message.pk).update(text="Pricing: $300 🙂")
    message.refresh_from_db()
    assert message.text_features == tf.PRICE | tf.EMOJI
