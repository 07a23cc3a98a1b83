"""Embedding calls are recorded in the LLM gateway's ledger, priced, and kept out of token quotas."""

from decimal import Decimal

import pytest
import responses

from accounts.models import Role
from accounts.tests.factories import MembershipFactory, WorkspaceFactory
from integrations.embeddings import EmbeddingConfig, provider_for
from integrations.embeddings.usage import embedding_usage_record
from integrations.llm.models import LLMQuotaPolicy, LLMUsage
from integrations.llm.pricing import estimate_embedding_cost
from integrations.llm.quotas import quota_check, usage_totals
from knowledge.embedding import texts_embed

pytestmark = pytest.mark.django_db

BASE = "https://embeddings.example.com/v1"


def _provider(model):
    return provider_for(EmbeddingConfig(provider="openai_compatible", model=model, dimension=3, base_url=BASE,
                                        api_key="sk-test-key"), max_batch=2)


@responses.activate
def test_each_provider_call_becomes_one_ledger_row():
    workspace = WorkspaceFactory()
    responses.post(f"{BASE}/embeddings", json={"data": [{"index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(2)],
                                               "usage": {"prompt_tokens": 1500, "total_tokens": 1500}})
    texts_embed(workspace=workspace, provider=_provider("text-embedding-3-small"), texts=["a", "b", "c", "d"],
                purpose="ingest")
    rows = list(LLMUsage.objects.filter(workspace=workspace))
    assert len(rows) == 2  # two batches of two
    row = rows[0]
    assert (row.purpose, row.provider_kind, row.model, row.input_tokens, row.output_tokens, row.outcome) == (
        "embedding", "openai_compatible", "text-embedding-3-small", 1500, 0, "ok")
    assert row.user is None and row.provider is None
    assert row.cost_usd == Decimal("0.000030")  # 1,500 tokens at $0.02 per million


def test_prices_known_embedding_models_and_charges_nothing_for_others():
    assert estimate_embedding_cost(model="text-embedding-3-large", input_tokens=1_000_000) == Decimal("0.13")
    assert estimate_embedding_cost(model="nomic-embed-text", input_tokens=1_000_000) == Decimal(0)
    workspace = WorkspaceFactory()
    embedding_usage_record(workspace_id=workspace.pk, provider="openai_compatible", model="my-azure-deployment",
                           texts=3, input_tokens=None, purpose="query")
    row = LLMUsage.objects.get(workspace=workspace)
    assert (row.input_tokens, row.cost_usd) == (0, Decimal(0))  # the endpoint reported no usage


def test_local_embeddings_are_not_recorded():
    workspace = WorkspaceFactory()
    embedding_usage_record(workspace_id=workspace.pk, provider="local", model="all-MiniLM-L6-v2", texts=64,
                           input_tokens=None, purpose="ingest")
    assert not LLMUsage.objects.exists()


def test_embedding_tokens_do_not_use_up_token_quotas():
    setter = MembershipFactory(role=Role.SETTER)
    workspace = setter.workspace
    LLMQuotaPolicy.objects.create(workspace=workspace, workspace_daily=1000, setter_daily=500)
    embedding_usage_record(workspace_id=workspace.pk, provider="openai_compatible", model="text-embedding-3-small",
                           texts=500, input_tokens=5_000_000, purpose="ingest")
    assert usage_totals(workspace=workspace)["workspace_day"] == 0
    assert quota_check(workspace=workspace, user=setter.user) is None
    assert LLMUsage.objects.get(workspace=workspace).input_tokens == 5_000_000  # still in the ledger
