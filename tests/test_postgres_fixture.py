"""The throw-away PostgreSQL server of the tests is real: SQL runs, databases are separate."""

from __future__ import annotations

import sqlalchemy as sa


def test_the_server_runs_sql_and_databases_are_separate(postgres):
    a, b = postgres.new_database(), postgres.new_database()
    ea, eb = sa.create_engine(a), sa.create_engine(b)
    try:
        with ea.begin() as con:
            con.execute(sa.text("CREATE TABLE t (x int)"))
            con.execute(sa.text("INSERT INTO t VALUES (1), (2)"))
            version = con.execute(sa.text("SHOW server_version")).scalar()
        with ea.connect() as con:
            assert con.execute(sa.text("SELECT sum(x) FROM t")).scalar() == 3
        with eb.connect() as con:
            assert con.execute(sa.text("SELECT to_regclass('t')")).scalar() is None
        assert int(version.split(".")[0]) >= 13
    finally:
        ea.dispose()
        eb.dispose()
