"""The embedded services start once, are reused, and stop cleanly (in a scratch var dir)."""

import os

import psycopg
import pytest
import redis

from sidekick_project import embedded

pytestmark = pytest.mark.slow


@pytest.fixture
def var_dir(tmp_path_factory):
    # A short path: unix socket paths are limited to ~100 bytes.
    path = tmp_path_factory.mktemp("v")
    yield path
    embedded.stop(path)


def _alive(pid):
    return embedded._pid_alive(pid)


def test_postgres_starts_with_pgvector_is_reused_and_stops(var_dir):
    first = embedded.ensure_postgres(var_dir)
    assert first.started_here
    second = embedded.ensure_postgres(var_dir)
    assert not second.started_here and second.pid == first.pid

    with psycopg.connect(**_conninfo(second), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        assert conn.execute("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector").fetchone()[0] == 1.0
        assert conn.execute("SHOW server_version").fetchone()[0].startswith("16.")

    assert embedded.stop_postgres(var_dir)
    assert not _alive(first.pid)
    assert embedded.postgres_running(var_dir) is None
    assert not embedded.stop_postgres(var_dir)  # stopping twice is harmless

    # Data survives a restart.
    third = embedded.ensure_postgres(var_dir)
    assert third.started_here and third.pid != first.pid
    with psycopg.connect(**_conninfo(third)) as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()


def _conninfo(info):
    settings = info.database_settings()
    return {"host": settings["HOST"], "user": settings["USER"], "dbname": settings["NAME"]}


def test_redis_starts_is_reused_and_stops(var_dir):
    first = embedded.ensure_redis(var_dir)
    assert first.started_here
    client = redis.Redis.from_url(first.url)
    client.set("k", "v")
    second = embedded.ensure_redis(var_dir)
    assert not second.started_here and second.pid == first.pid
    assert redis.Redis.from_url(second.url).get("k") == b"v"

    assert embedded.stop_redis(var_dir)
    assert not _alive(first.pid)
    assert not os.path.exists(first.socket_path)
    assert embedded.redis_running(var_dir) is None


def test_stale_pid_files_are_not_mistaken_for_running_services(var_dir):
    (var_dir / "redis").mkdir()
    (var_dir / "redis" / "redis.pid").write_text("999999\n")
    assert embedded.redis_running(var_dir) is None
    (var_dir / "postgres").mkdir()
    (var_dir / "postgres" / "postmaster.pid").write_text("999999\n/x\n0\n5432\n/tmp\n\n\nready\n")
    assert embedded.postgres_running(var_dir) is None
    info = embedded.ensure_redis(var_dir)
    assert info.started_here and info.pid != 999999


def test_long_paths_get_a_short_redis_socket(tmp_path):
    deep = tmp_path / ("d" * 120)
    path = embedded._redis_socket_path(deep)
    assert len(str(path)) < 108
    assert path != embedded._redis_socket_path(tmp_path / ("e" * 120))
