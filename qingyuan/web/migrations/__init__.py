"""Alembic migrations of the application database (:mod:`qingyuan.web.db`).

Applied by :func:`qingyuan.web.db.open_database` on every start; the version is kept in the
table ``qingyuan_web_version`` (not ``alembic_version``, so that a database shared by mistake
with MLflow, which also uses Alembic, is not confused). A new revision goes into ``versions/``
(``alembic -c qingyuan/web/migrations/alembic.ini revision -m "..."`` from the checkout).
"""
