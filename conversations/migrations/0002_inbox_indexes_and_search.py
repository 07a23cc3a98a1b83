"""Inbox indexes (keyset paging, AI-paused filter) and the thread search document with its triggers.

Why a per-thread document rather than an index over message text: the inbox wants the newest 25
*threads* matching a query. Over a message-text index a common word matches tens of thousands of
messages that must all be fetched to learn their threads (≈300 ms at 1M messages); over one
document per thread it is an index lookup on 50k short rows. Triggers (not Python) keep it current
so every write path — webhook intake, sends, edits, deletes, profile fetches, bulk loads followed by
`sidekick_thread_search_document` — agrees.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

SQL = """
-- The whole document of one thread: contact names, then the text of its messages not deleted.
CREATE OR REPLACE FUNCTION sidekick_thread_search_document(p_thread_id bigint) RETURNS tsvector AS $$
  SELECT strip(to_tsvector('simple'::regconfig, coalesce(c.display_name, '') || ' ' || coalesce(c.username, '')))
         || coalesce((SELECT strip(to_tsvector('simple'::regconfig, string_agg(m.text, ' ')))
                      FROM conversations_message m WHERE m.thread_id = t.id AND NOT m.is_deleted), ''::tsvector)
  FROM conversations_thread t JOIN contacts_contact c ON c.id = t.contact_id
  WHERE t.id = p_thread_id
$$ LANGUAGE sql STABLE;

-- A new thread starts with its contact's names.
CREATE OR REPLACE FUNCTION sidekick_thread_search_init() RETURNS trigger AS $$
BEGIN
  SELECT strip(to_tsvector('simple'::regconfig, coalesce(display_name, '') || ' ' || coalesce(username, '')))
    INTO NEW.search_vector FROM contacts_contact WHERE id = NEW.contact_id;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER thread_search_init BEFORE INSERT ON conversations_thread
  FOR EACH ROW EXECUTE FUNCTION sidekick_thread_search_init();

-- A new message adds its words (cheap: the thread row is updated by intake anyway).
CREATE OR REPLACE FUNCTION sidekick_thread_search_add() RETURNS trigger AS $$
BEGIN
  UPDATE conversations_thread
     SET search_vector = coalesce(search_vector, ''::tsvector) || strip(to_tsvector('simple'::regconfig, NEW.text))
   WHERE id = NEW.thread_id;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER message_search_add AFTER INSERT ON conversations_message
  FOR EACH ROW WHEN (NEW.text <> '' AND NOT NEW.is_deleted) EXECUTE FUNCTION sidekick_thread_search_add();

-- An edit or an unsend rebuilds the document, so removed words stop matching.
CREATE OR REPLACE FUNCTION sidekick_thread_search_rebuild() RETURNS trigger AS $$
BEGIN
  UPDATE conversations_thread SET search_vector = sidekick_thread_search_document(id) WHERE id = NEW.thread_id;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER message_search_rebuild AFTER UPDATE OF text, is_deleted ON conversations_message
  FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.is_deleted IS DISTINCT FROM NEW.is_deleted)
  EXECUTE FUNCTION sidekick_thread_search_rebuild();

-- A contact's names arrive later (profile fetch) or change.
CREATE OR REPLACE FUNCTION sidekick_contact_search_rebuild() RETURNS trigger AS $$
BEGIN
  UPDATE conversations_thread SET search_vector = sidekick_thread_search_document(id) WHERE contact_id = NEW.id;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER contact_search_rebuild AFTER UPDATE OF display_name, username ON contacts_contact
  FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name OR OLD.username IS DISTINCT FROM NEW.username)
  EXECUTE FUNCTION sidekick_contact_search_rebuild();

UPDATE conversations_thread SET search_vector = sidekick_thread_search_document(id);
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS contact_search_rebuild ON contacts_contact;
DROP TRIGGER IF EXISTS message_search_rebuild ON conversations_message;
DROP TRIGGER IF EXISTS message_search_add ON conversations_message;
DROP TRIGGER IF EXISTS thread_search_init ON conversations_thread;
DROP FUNCTION IF EXISTS sidekick_contact_search_rebuild();
DROP FUNCTION IF EXISTS sidekick_thread_search_rebuild();
DROP FUNCTION IF EXISTS sidekick_thread_search_add();
DROP FUNCTION IF EXISTS sidekick_thread_search_init();
DROP FUNCTION IF EXISTS sidekick_thread_search_document(bigint);
"""


class Migration(migrations.Migration):
    # Indexes are built without blocking writes.
    atomic = False

    dependencies = [
        ('contacts', '0002_contact_score_index'),
        ('conversations', '0001_initial'),
    ]

    operations = [
        RemoveIndexConcurrently(
            model_name='thread',
            name='thread_inbox_idx',
        ),
        migrations.AddField(
            model_name='thread',
            name='search_vector',
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        AddIndexConcurrently(
            model_name='thread',
            index=models.Index(fields=['workspace', '-last_message_at', '-id'], name='thread_inbox_idx'),
        ),
        AddIndexConcurrently(
            model_name='thread',
            index=models.Index(condition=models.Q(('ai_paused', True)), fields=['workspace', '-last_message_at', '-id'], name='thread_ai_paused_idx'),
        ),
        migrations.RunSQL(SQL, REVERSE_SQL),
        AddIndexConcurrently(
            model_name='thread',
            index=django.contrib.postgres.indexes.GinIndex(fields=['search_vector'], name='thread_search_idx'),
        ),
    ]
