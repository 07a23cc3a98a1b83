import factory

from accounts.tests.factories import WorkspaceFactory
from integrations.models import Channel, Platform


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    workspace = factory.SubFactory(WorkspaceFactory)
    platform = Platform.INSTAGRAM
    account_id = factory.Sequence(lambda n: f"1784{n:011d}")
    name = factory.Sequence(lambda n: f"Studio {n}")
    access_token = factory.Sequence(lambda n: f"IGAAtoken{n:04d}secretsecretsecret")


class MessengerChannelFactory(ChannelFactory):
    platform = Platform.MESSENGER
    account_id = factory.Sequence(lambda n: f"1000{n:011d}")
    access_token = factory.Sequence(lambda n: f"EAAGpagetoken{n:04d}secretsecret")
