"""LLM providers behind one gateway (bring your own key).

Public API, for the rest of Sidekick:

- `integrations.llm.gateway.llm_complete(...)` → `LLMResult`: the only way to call a model.
- `integrations.llm.batch.llm_batch_reserve(...)` → `LLMBatch`: one quota reservation for a run of many
  calls (`llm_complete(..., batch=...)`), their usage rows written in bulk (`flush`, `release`).
- `integrations.llm.errors`: `LLMGatewayError` ⊃ `NoProviderConfigured`, `QuotaExceeded`,
  `LLMError(kind, permanent)` ⊃ `LLMOutputError(raw, result)`.
- `integrations.llm.services`: `llm_provider_save`, `llm_provider_test`.
- `integrations.llm.selectors`: `llm_provider_for`, `llm_providers_for_workspace`, `llm_usage_for_workspace`.
- `integrations.llm.quotas`: `quota_check`, `usage_totals`, `quota_periods`.
- Tests and benchmarks: `testing.fake_llm.FakeLLMServer` / `Reply`, and the `fake_llm` and
  `llm_workspace` pytest fixtures (testing/pytest_fixtures.py, loaded by the root conftest).
"""
