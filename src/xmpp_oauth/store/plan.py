"""Transactions as plans: the SQL steps of one read-modify-write, separate from how they run.

Theory of operation
-------------------
A *plan* is a generator that yields :class:`Step` objects (a statement and its arguments) and
receives each step's result: ``row = yield fetchone("SELECT ...", key)``.  It decides what to
do next from what it read, and finally returns the method's result.  It does no I/O itself,
so one plan runs on either engine:

* :func:`run_async` drives it over an async :class:`~xmpp_oauth.store.sqlcore.Db` handle,
  one round trip per step (PostgreSQL, inside the transaction the store opened);
* :func:`run_sync` drives it over a plain :mod:`sqlite3` connection, with no await between
  steps: the SQLite store runs several plans back to back in one transaction and one commit
  (:mod:`~xmpp_oauth.store.sqliteplans`), instead of an aiosqlite thread hop per statement.

A plan is handed over as a factory (:data:`PlanFactory`) so that a runner can start it again
from scratch (the SQLite runner does when another plan of its group failed).

Step results: ``execute`` gives the number of changed rows, ``fetchone`` a row or ``None``,
``fetchall`` a list of rows, ``executemany`` ``None``.  An exception raised by a step is not
thrown into the plan: it aborts the transaction, and the store maps it to a ``StoreError``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from .sqlcore import Db

T = TypeVar("T")


class StepKind(Enum):
    EXECUTE = "execute"
    EXECUTEMANY = "executemany"
    FETCHONE = "fetchone"
    FETCHALL = "fetchall"


class Step(NamedTuple):
    """One statement of a plan (``?`` placeholders, as everywhere in the store).

    A named tuple rather than a frozen dataclass: plans make several per refresh, and a
    frozen dataclass pays an ``object.__setattr__`` per field.
    """

    kind: StepKind
    sql: str
    args: tuple[Any, ...] = ()
    rows: Sequence[Sequence[Any]] = ()  # executemany only


#: A transaction's logic: yields steps, receives their results, returns the outcome.
Plan = Generator[Step, Any, T]
#: Makes a fresh plan each call, so that a runner may run it again (plans have no other
#: side effects than their steps).
PlanFactory = Callable[[], Plan[T]]


def execute(sql: str, *args: Any) -> Step:
    return Step(StepKind.EXECUTE, sql, args)


def executemany(sql: str, rows: Sequence[Sequence[Any]]) -> Step:
    return Step(StepKind.EXECUTEMANY, sql, rows=rows)


def fetchone(sql: str, *args: Any) -> Step:
    return Step(StepKind.FETCHONE, sql, args)


def fetchall(sql: str, *args: Any) -> Step:
    return Step(StepKind.FETCHALL, sql, args)


async def run_async(db: Db, plan: Plan[T]) -> T:
    """Run ``plan`` step by step on ``db`` (the caller holds the transaction)."""
    result: Any = None
    try:
        while True:
            step = plan.send(result)
            kind = step.kind
            if kind is StepKind.FETCHONE:
                result = await db.fetchone(step.sql, *step.args)
            elif kind is StepKind.EXECUTE:
                result = await db.execute(step.sql, *step.args)
            elif kind is StepKind.FETCHALL:
                result = await db.fetchall(step.sql, *step.args)
            else:
                await db.executemany(step.sql, step.rows)
                result = None
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        plan.close()


def run_sync(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    """Run ``plan`` on a blocking sqlite3 connection (in the thread that owns it)."""
    result: Any = None
    try:
        while True:
            step = plan.send(result)
            kind = step.kind
            if kind is StepKind.FETCHONE:
                result = conn.execute(step.sql, step.args).fetchone()
            elif kind is StepKind.EXECUTE:
                # RETURNING statements leave cursor.rowcount unreliable; the change counter
                # is exact (nobody else uses this connection while the plan runs).
                before = conn.total_changes
                conn.execute(step.sql, step.args).fetchall()
                result = conn.total_changes - before
            elif kind is StepKind.FETCHALL:
                result = conn.execute(step.sql, step.args).fetchall()
            else:
                conn.executemany(step.sql, step.rows)
                result = None
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        plan.close()


__all__ = [
    "Plan",
    "PlanFactory",
    "Step",
    "StepKind",
    "execute",
    "executemany",
    "fetchall",
    "fetchone",
    "run_async",
    "run_sync",
]
