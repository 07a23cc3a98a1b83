"""Provider configuration: validation per kind, one default, key encryption, admin, command, test connection."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from accounts.tests.factories import UserFactory, WorkspaceFactory
from integrations.llm.models import LLMProvider, LLMUsage
from integrations.llm.services import llm_provider_save, llm_provider_test
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db

KEY = "sk-ant-test-very-secret-key-0123456789abcdef"


@pytest.mark.parametrize(("kind", "fields", "missing"), [
    ("anthropic", {}, {"api_key"}),
    ("openai", {}, {"api_key"}),
    ("azure_openai", {"api_key": KEY}, {"base_url", "api_version"}),
    ("azure_openai", {}, {"api_key", "base_url", "api_version"}),
    ("ollama", {}, {"base_url"}),
    ("openai_compatible", {"api_key": KEY}, {"base_url"}),
])
def test_validation_per_kind(kind, fields, missing):
    provider = LLMProvider(workspace=WorkspaceFactory(), kind=kind, model="m", **fields)
    with pytest.raises(ValidationError) as caught:
        provider.full_clean()
    assert set(caught.value.message_dict) == missing


@pytest.mark.parametrize(("kind", "fields"), [
    ("anthropic", {"api_key": KEY}),
    ("openai", {"api_key": KEY, "temperature": 0.2}),
    ("azure_openai", {"api_key": KEY, "base_url": "https://acme.openai.azure.com", "api_version": "2024-10-21"}),
    ("ollama", {"base_url": "http://localhost:11434"}),
    ("openai_compatible", {"base_url": "http://vllm.internal:8000/v1"}),
])
def test_valid_configurations(kind, fields):
    LLMProvider(workspace=WorkspaceFactory(), kind=kind, model="m", **fields).full_clean()


def test_anthropic_rejects_temperature_and_others_reject_api_version():
    workspace = WorkspaceFactory()
    with pytest.raises(ValidationError, match="temperature"):
        LLMProvider(workspace=workspace, kind="anthropic", model="m", api_key=KEY, temperature=0.5).full_clean()
    with pytest.raises(ValidationError, match="api_version"):
        LLMProvider(workspace=workspace, kind="openai", model="m", api_key=KEY, api_version="x").full_clean()


def test_one_default_per_workspace_is_enforced_by_the_database():
    workspace = WorkspaceFactory()
    LLMProvider.objects.create(workspace=workspace, kind="openai", model="a", api_key=KEY, is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        LLMProvider.objects.create(workspace=workspace, kind="anthropic", model="b", api_key=KEY, is_default=True)
    # Another workspace has its own default, and non-defaults are unlimited.
    LLMProvider.objects.create(workspace=WorkspaceFactory(), kind="openai", model="a", api_key=KEY, is_default=True)
    LLMProvider.objects.create(workspace=workspace, kind="anthropic", model="b", api_key=KEY)


def test_a_user_override_cannot_be_the_default():
    workspace, user = WorkspaceFactory(), UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        LLMProvider.objects.create(workspace=workspace, user=user, kind="openai", model="a", api_key=KEY,
                                   is_default=True)


def test_save_service_moves_the_default_and_updates_in_place(llm_workspace):
    first, created = llm_provider_save(workspace=llm_workspace, kind="openai", model="gpt-4o", api_key=KEY)
    assert created and first.is_default  # the first provider becomes the default
    second, _ = llm_provider_save(workspace=llm_workspace, kind="anthropic", model="claude-haiku-4-5", api_key=KEY)
    assert not second.is_default
    second, created = llm_provider_save(workspace=llm_workspace, kind="anthropic", model="claude-sonnet-4-6",
                                        make_default=True)
    first.refresh_from_db()
    assert not created and second.is_default and not first.is_default
    assert second.model == "claude-sonnet-4-6" and second.api_key == KEY  # key kept when not given
    assert LLMProvider.objects.filter(workspace=llm_workspace).count() == 2


def test_key_is_encrypted_at_rest_and_never_shown(llm_workspace):
    provider, _ = llm_provider_save(workspace=llm_workspace, kind="anthropic", model="claude-haiku-4-5", api_key=KEY)

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM integrations_llmprovider WHERE id = %s", [provider.pk])
        raw = cursor.fetchone()[0]
    assert KEY not in raw and raw.startswith("gAAAA")  # Fernet token
    assert LLMProvider.objects.get(pk=provider.pk).api_key == KEY
    assert KEY not in str(provider) and KEY not in repr(provider)
    assert provider.masked_api_key == "••••••••cdef"
    from accounts.models import AuditEvent

    assert KEY not in str(AuditEvent.objects.filter(verb="llm_provider.created").get().data)


def test_admin_never_shows_the_key(client, llm_workspace):
    provider, _ = llm_provider_save(workspace=llm_workspace, kind="anthropic", model="claude-haiku-4-5", api_key=KEY)
    client.force_login(UserFactory(email="root@sidekick.test"))

    listing = client.get("/admin/integrations/llmprovider/?q=claude")
    change = client.get(f"/admin/integrations/llmprovider/{provider.pk}/change/")

    for response in (listing, change):
        assert response.status_code == 200
        assert KEY not in response.content.decode()
        assert "••••••••cdef" in response.content.decode()


def test_admin_sets_a_new_key_and_keeps_it_when_left_blank(client, llm_workspace):
    provider, _ = llm_provider_save(workspace=llm_workspace, kind="openai", model="gpt-4o", api_key=KEY)
    client.force_login(UserFactory(email="root@sidekick.test"))
    url = f"/admin/integrations/llmprovider/{provider.pk}/change/"
    form = {"workspace": llm_workspace.pk, "kind": "openai", "model": "gpt-4.1", "max_tokens": 500,
            "is_default": "on", "new_api_key": ""}

    assert client.post(url, form).status_code == 302
    provider.refresh_from_db()
    assert (provider.model, provider.api_key) == ("gpt-4.1", KEY)
    assert client.post(url, {**form, "new_api_key": "sk-rotated-key-999999999"}).status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == "sk-rotated-key-999999999"
    response = client.post(url, {**form, "clear_api_key": "on"})  # OpenAI needs a key
    assert response.status_code == 200 and "needs an API key" in response.content.decode()


def test_set_llm_provider_command_creates_and_updates(llm_workspace):
    out = io.StringIO()
    call_command("set_llm_provider", workspace=llm_workspace.slug, kind="anthropic", model="claude-haiku-4-5",
                 api_key=KEY, stdout=out)
    provider = LLMProvider.objects.get(workspace=llm_workspace)
    assert provider.is_default and provider.api_key == KEY
    assert "Created" in out.getvalue() and KEY not in out.getvalue() and "cdef" in out.getvalue()

    out = io.StringIO()
    call_command("set_llm_provider", "--workspace", llm_workspace.slug, "--kind", "anthropic",
                 "--model", "claude-sonnet-4-6", "--max-tokens", "700", stdout=out)
    provider.refresh_from_db()
    assert "Updated" in out.getvalue()
    assert (provider.model, provider.max_tokens, provider.api_key) == ("claude-sonnet-4-6", 700, KEY)

    call_command("set_llm_provider", "--workspace", llm_workspace.slug, "--kind", "azure_openai",
                 "--model", "sales", "--api-key", KEY, "--base-url", "https://acme.openai.azure.com",
                 "--api-version", "2024-10-21", "--default", stdout=io.StringIO())
    assert LLMProvider.objects.get(workspace=llm_workspace, is_default=True).kind == "azure_openai"


def test_set_llm_provider_reads_the_key_from_stdin(llm_workspace, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY + "\n"))
    call_command("set_llm_provider", "--workspace", llm_workspace.slug, "--kind", "openai", "--model", "gpt-4o",
                 "--api-key", "-", stdout=io.StringIO())
    assert LLMProvider.objects.get().api_key == KEY


def test_set_llm_provider_user_override(llm_workspace):
    call_command("set_llm_provider", "--workspace", llm_workspace.slug, "--kind", "openai", "--model", "gpt-4o",
                 "--api-key", KEY, "--user", llm_workspace.setter_user.email.upper(), stdout=io.StringIO())
    provider = LLMProvider.objects.get()
    assert provider.user == llm_workspace.setter_user and not provider.is_default


@pytest.mark.parametrize(("argv", "message"), [
    (["--workspace", "nope", "--kind", "openai", "--model", "m", "--api-key", "k"], "No workspace"),
    (["--kind", "openai", "--model", "m"], "needs an API key"),
    (["--kind", "azure_openai", "--model", "m", "--api-key", KEY], "base_url"),
    (["--kind", "ollama", "--model", "m", "--base-url", "not a url"], "base_url"),
    (["--kind", "openai", "--model", "m", "--api-key", "k", "--user", "ghost@example.com"], "No user"),
    (["--kind", "openai", "--model", "m", "--api-key", "k", "--max-tokens", "0"], "max_tokens"),
])
def test_set_llm_provider_rejects_bad_input_clearly(llm_workspace, argv, message):
    if "--workspace" not in argv:
        argv = ["--workspace", llm_workspace.slug, *argv]
    with pytest.raises(CommandError, match=message) as caught:
        call_command("set_llm_provider", *argv, stdout=io.StringIO())
    assert KEY not in str(caught.value)
    assert not LLMProvider.objects.exists()


def test_set_llm_provider_rejects_an_unknown_kind(llm_workspace):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("set_llm_provider", "--workspace", llm_workspace.slug, "--kind", "gemini", "--model", "m")


def test_set_llm_provider_rejects_a_non_member_user(llm_workspace):
    outsider = UserFactory()
    with pytest.raises(CommandError, match="not a member"):
        call_command("set_llm_provider", "--workspace", llm_workspace.slug, "--kind", "openai", "--model", "m",
                     "--api-key", KEY, "--user", outsider.email)


def test_connection_test_ok(fake_llm, llm_workspace):
    provider = fake_llm.provider(llm_workspace, kind="openai", model="gpt-4o-mini")

    outcome = llm_provider_test(provider=provider)

    assert outcome.ok and "gpt-4o-mini" in outcome.message
    request = fake_llm.last_request
    assert request.json["max_completion_tokens"] == 16
    usage = LLMUsage.objects.get()
    assert usage.purpose == "test_connection" and usage.user is None and usage.outcome == "ok"


def test_connection_test_reports_a_bad_key_without_leaking_it(fake_llm, llm_workspace):
    provider = fake_llm.provider(llm_workspace, kind="anthropic", api_key=KEY, is_default=False)
    fake_llm.queue(Reply.error(401, f"invalid x-api-key {KEY}"), Reply.text("not reached"))

    outcome = llm_provider_test(provider=provider)

    assert not outcome.ok and outcome.message.startswith("auth:")
    assert KEY not in outcome.message
    assert len(fake_llm.requests) == 1  # no retries for a connection test


def test_connection_test_reports_an_unreachable_server(llm_workspace):
    provider, _ = llm_provider_save(workspace=llm_workspace, kind="ollama", model="llama3.1",
                                    base_url="http://127.0.0.1:9")
    outcome = llm_provider_test(provider=provider, timeout=2)
    assert not outcome.ok and outcome.message.startswith("connection:")


def test_admin_usage_and_quota_pages_render(client, llm_workspace):
    LLMUsage.objects.create(workspace=llm_workspace, purpose="draft_reply", provider_kind="openai", model="gpt-4o",
                            input_tokens=10, output_tokens=5, outcome="ok")
    client.force_login(UserFactory(email="root@sidekick.test"))
    assert client.get("/admin/integrations/llmusage/").status_code == 200
    assert client.get("/admin/integrations/llmquotapolicy/add/").status_code == 200
    assert client.get("/admin/integrations/llmusage/add/").status_code == 403  # the ledger is read-only


def test_admin_is_closed_to_workspace_admins(client, llm_workspace):
    client.force_login(llm_workspace.admin_user)
    response = client.get("/admin/integrations/llmprovider/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
