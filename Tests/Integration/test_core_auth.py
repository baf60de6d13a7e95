"""Core: client authentication (SCRAM, md5, client-only users), its errors, and upstream md5 / cleartext auth."""

import psycopg2
import pytest

import support

AUTH_OK, AUTH_CLEARTEXT, AUTH_MD5, AUTH_SASL = 0, 3, 5, 10


def scalar(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()


def assert_login_fails(endpoint, sqlstate, message, dbname="app", user="app", password="app-secret",
                       exact=True):
    """Both libpq (psycopg2) and asyncpg are refused; asyncpg shows the SQLSTATE."""
    with pytest.raises(psycopg2.OperationalError) as info:
        psycopg2.connect(endpoint.dsn(dbname, user, password))
    assert message in str(info.value), str(info.value)

    host, port, db = endpoint._target(dbname)
    error = support.asyncpg_connect_error(host, port, user, password, db)
    assert error is not None, "asyncpg logged in"
    assert getattr(error, "sqlstate", None) == sqlstate, repr(error)
    if exact:
        assert error.message == message, repr(error.message)
    else:
        assert error.message.startswith(message), repr(error.message)


def test_scram_login_and_wrong_password(sluice):
    s = sluice(support.sluice_config(client_auth="scram-sha-256"))
    assert support.first_auth_request(s.host, s.port, "app", s._target("app")[2]) == AUTH_SASL
    conn = s.connect()
    assert scalar(conn, "select current_user, current_database()") == ("app", "app")
    conn.close()
    assert_login_fails(s, "28P01", 'password authentication failed for user "app"', password="wrong-secret")


def test_unknown_database(sluice):
    s = sluice(support.sluice_config())
    if support.DIRECT:
        assert_login_fails(s, "3D000", 'database "nosuchdb" does not exist', dbname="nosuchdb")
    else:
        assert_login_fails(s, "3D000", 'database "nosuchdb" does not exist in sluice config', dbname="nosuchdb")


@pytest.mark.sluice_only
def test_md5_client_auth(sluice):
    s = sluice(support.sluice_config(client_auth="md5"))
    assert support.first_auth_request(s.host, s.port, "app", "app") == AUTH_MD5
    conn = s.connect()
    assert scalar(conn, "select current_user") == ("app",)
    conn.close()
    assert support.asyncpg_connect_error(s.host, s.port, "app", "app-secret", "app") is None
    assert_login_fails(s, "28P01", 'password authentication failed for user "app"', password="wrong-secret")


@pytest.mark.sluice_only
def test_client_only_user(sluice):
    s = sluice(support.sluice_config(users={"alice": {"password": "alice-secret"}}))
    conn = s.connect(user="alice", password="alice-secret")
    # alice is known to sluice only; upstream, the pool logs in as the URL's user.
    assert scalar(conn, "select current_user, current_database()") == ("app", "app")
    conn.close()
    # The URL's own user still logs in too.
    conn = s.connect()
    assert scalar(conn, "select 1") == (1,)
    conn.close()
    assert_login_fails(s, "28P01", 'password authentication failed for user "alice"',
                       user="alice", password="wrong-secret")


def test_upstream_md5_and_cleartext_auth(sluice, pg):
    # The test cluster itself asks md5 for md5db and a cleartext password for fltr_plain.
    assert support.first_auth_request(pg.host, pg.port, "md5user", "md5db") == AUTH_MD5
    assert support.first_auth_request(pg.host, pg.port, "app", "fltr_plain") == AUTH_CLEARTEXT

    s = sluice(support.sluice_config(pool_size=2, databases={
        "md5db": {"url": support.upstream_url("md5db", "md5user", "md5-secret")},
        "fltr_plain": {"url": support.upstream_url("fltr_plain", "app", "app-secret")},
    }))
    conn = s.connect(dbname="md5db", user="md5user", password="md5-secret")
    assert scalar(conn, "select current_user, current_database()") == ("md5user", "md5db")
    conn.close()
    conn = s.connect(dbname="fltr_plain")
    assert scalar(conn, "select current_user, current_database()") == ("app", "fltr_plain")
    conn.close()


@pytest.mark.sluice_only
def test_auth_file_users_and_reload(sluice, tmp_path):
    """auth_file (PgBouncer's userlist.txt): plaintext and SCRAM-verifier users log in; a SIGHUP
    re-reads the file (a changed password takes effect, a removed user is refused)."""
    from test_cli_import_pgbouncer import scram_verifier
    userlist = tmp_path / "userlist.txt"
    userlist.write_text(f'"bob" "bob-secret"\n"carol" "{scram_verifier("carol-secret")}"\n')
    s = sluice(support.sluice_config(auth_file=str(userlist)))
    for user, password in (("bob", "bob-secret"), ("carol", "carol-secret")):
        conn = s.connect(user=user, password=password)
        assert scalar(conn, "select current_user") == ("app",)   # client-side logins; upstream is the URL's role
        conn.close()
    assert_login_fails(s, "28P01", 'password authentication failed for user "bob"', user="bob", password="wrong")
    userlist.write_text('"bob" "new-bob-secret"\n')
    s.reload()

    def reloaded():
        try:
            psycopg2.connect(s.dsn("app", "bob", "new-bob-secret")).close()
            return True
        except psycopg2.OperationalError:
            return False

    assert support.wait_until(reloaded, 10, message="the new password after SIGHUP")
    assert_login_fails(s, "28P01", 'password authentication failed for user "bob"', user="bob", password="bob-secret")
    assert_login_fails(s, "28P01", 'password authentication failed for user "carol"', user="carol", password="carol-secret")
