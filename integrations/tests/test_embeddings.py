"""Embedding providers. The openai_compatible client runs for real against `responses` fakes."""

import json

import pytest
import requests
import responses

from integrations.embeddings import EmbeddingConfig, EmbeddingError, local_provider_available, provider_for
from integrations.embeddings.openai_compatible import embeddings_url

CONFIG = EmbeddingConfig(provider="openai_compatible", model="text-embedding-3-small", dimension=3,
                         base_url="https://api.example.com/v1", api_key="sk-secret-1234")


def ok_body(n, dim=3):
    return {"data": [{"index": i, "embedding": [float(i)] * dim} for i in reversed(range(n))],
            "usage": {"prompt_tokens": 7}}


@responses.activate
def test_openai_compatible_posts_and_orders_by_index():
    responses.post("https://api.example.com/v1/embeddings", json=ok_body(2))
    result = provider_for(CONFIG).embed(["a", "b"])
    assert result.vectors == [[0.0] * 3, [1.0] * 3] and result.input_tokens == 7 and result.dimension == 3
    request = responses.calls[0].request
    assert json.loads(request.body) == {"model": "text-embedding-3-small", "input": ["a", "b"],
                                        "encoding_format": "float"}
    assert request.headers["Authorization"] == "Bearer sk-secret-1234" and "api-key" not in request.headers


@responses.activate
def test_azure_url_with_query_and_api_key_header():
    base = "https://acme.openai.azure.com/openai/deployments/emb?api-version=2024-02-01"
    assert embeddings_url(base) == "https://acme.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-02-01"
    responses.post("https://acme.openai.azure.com/openai/deployments/emb/embeddings", json=ok_body(1))
    provider_for(EmbeddingConfig(**{**CONFIG.__dict__, "base_url": base})).embed(["a"])
    assert responses.calls[0].request.headers["api-key"] == "sk-secret-1234"


@pytest.mark.parametrize("status, permanent", [(401, True), (404, True), (400, True), (429, False), (503, False)])
@responses.activate
def test_http_errors_are_typed(status, permanent):
    responses.post("https://api.example.com/v1/embeddings", status=status, json={"error": {"message": "nope"}})
    with pytest.raises(EmbeddingError) as info:
        provider_for(CONFIG).embed(["a"])
    assert info.value.permanent is permanent and "nope" in str(info.value)
    assert "sk-secret" not in str(info.value)


@responses.activate
def test_timeouts_and_bad_bodies_are_retryable_and_wrong_dimension_is_permanent():
    url = "https://api.example.com/v1/embeddings"
    responses.post(url, body=requests.Timeout())
    with pytest.raises(EmbeddingError) as info:
        provider_for(CONFIG).embed(["a"])
    assert not info.value.permanent
    responses.replace(responses.POST, url, body="<html>")
    with pytest.raises(EmbeddingError) as info:
        provider_for(CONFIG).embed(["a"])
    assert not info.value.permanent
    responses.replace(responses.POST, url, json=ok_body(1, dim=5))
    with pytest.raises(EmbeddingError) as info:
        provider_for(CONFIG).embed(["a"])
    assert info.value.permanent and "5-dimensional" in str(info.value)


def test_none_provider_is_disabled():
    provider = provider_for(EmbeddingConfig(provider="none"))
    assert not provider.enabled
    with pytest.raises(EmbeddingError):
        provider.embed(["a"])


def test_openai_compatible_needs_model_and_dimension():
    with pytest.raises(EmbeddingError) as info:
        provider_for(EmbeddingConfig(provider="openai_compatible", base_url="http://x"))
    assert info.value.permanent


def test_local_model_embeds_offline():
    assert local_provider_available()  # part of the default install
    provider = provider_for(EmbeddingConfig(provider="local"))
    result = provider.embed(["How much is a class?", "A drop-in class costs 22 euros.", "The car park is nearby."])
    assert result.dimension == 384 and all(len(v) == 384 for v in result.vectors)
    a, b, c = result.vectors
    dot = lambda x, y: sum(p * q for p, q in zip(x, y, strict=True))  # noqa: E731
    assert abs(dot(a, a) - 1) < 1e-4 and dot(a, b) > dot(a, c)
