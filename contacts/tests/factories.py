import factory

from contacts.models import Contact
from integrations.tests.factories import ChannelFactory


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    channel = factory.SubFactory(ChannelFactory)
    workspace = factory.SelfAttribute("channel.workspace")
    external_id = factory.Sequence(lambda n: f"5{n:015d}")
    display_name = factory.Sequence(lambda n: f"Lead {n}")
    username = factory.Sequence(lambda n: f"lead_{n}")
