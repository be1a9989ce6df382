"""The team store: every run in PostgreSQL, written by trackers, read by the board.

Pure SQL generation from the column contract (:mod:`tracker.db.ddl`), versioned migrations
(:mod:`tracker.db.migrations`), the upserts (:mod:`tracker.db.writes`), the local spool rows wait
in (:mod:`tracker.db.spool`), the tracker output (:mod:`tracker.db.output`) and the delivery of
spooled rows (:mod:`tracker.db.sync`). ``psycopg`` (the ``postgres`` extra) is imported only when
a connection is made, so importing the tracker stays light.
"""
