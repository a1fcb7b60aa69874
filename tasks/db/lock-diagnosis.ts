import type { Client } from 'pg';

/** Another session of this database, as pg_stat_activity and pg_locks show it: what a user needs to find and end it. */
export interface SessionInfo {
  pid: number;
  application?: string;
  user?: string;
  /** active, idle, idle in transaction, … (empty when the role may not see it). */
  state?: string;
  /** How long its transaction (or, outside one, its connection) has been open. */
  openMs?: number;
  /** Its current or last statement; "<insufficient privilege>" for another role's session without pg_read_all_stats. */
  query?: string;
  /** Tables it holds locks on, with the lock mode: `public.accounts (AccessExclusiveLock)`. */
  locks?: string[];
}

const QUERY_SHOWN = 120;
const LOCKS_SHOWN = 3;

/**
 * The session holding the advisory lock `lockId` in this database (node-pg-migrate's run lock), if any. A bigint
 * advisory key shows in pg_locks as classid (high 32 bits), objid (low 32 bits) and objsubid 1.
 */
export async function advisoryLockHolder(client: Client, lockId: string): Promise<SessionInfo | undefined> {
  const { rows } = await client.query<SessionRow>(
    `SELECT a.pid, a.application_name, a.usename, a.state, a.query,
            (extract(epoch FROM now() - coalesce(a.xact_start, a.backend_start)) * 1000)::bigint AS open_ms
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint
      LIMIT 1`,
    [lockId],
  );
  return rows[0] ? toSession(rows[0]) : undefined;
}

/**
 * Sessions of this database, other than the caller's, with an open transaction that holds locks on tables, views or
 * sequences (not the system catalogs): the likely blockers after a lock timeout. Oldest transaction first, at most `limit`.
 */
export async function sessionsHoldingLocks(client: Client, limit = 3): Promise<SessionInfo[]> {
  const { rows } = await client.query<SessionRow & { locks: string[] }>(
    `SELECT a.pid, a.application_name, a.usename, a.state, a.query,
            (extract(epoch FROM now() - a.xact_start) * 1000)::bigint AS open_ms,
            array_agg(DISTINCT format('%s (%s)', c.oid::regclass, l.mode)) AS locks
       FROM pg_locks l
       JOIN pg_stat_activity a ON a.pid = l.pid
       JOIN pg_class c ON c.oid = l.relation
      WHERE l.locktype = 'relation' AND l.granted
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
        AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
      GROUP BY a.pid, a.application_name, a.usename, a.state, a.query, a.xact_start
      ORDER BY a.xact_start
      LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({ ...toSession(row), locks: [...row.locks].sort() }));
}

/**
 * One line naming a session so a user can find and end it:
 * `PID 4242 (psql, user app, idle in transaction for 14 s; holds public.accounts (AccessExclusiveLock); last query: LOCK TABLE accounts)`.
 */
export function describeSession({ pid, application, user, state, openMs, query, locks }: SessionInfo): string {
  const facts: string[] = [];
  if (application) facts.push(application);
  if (user) facts.push(`user ${user}`);
  if (state) facts.push(openMs === undefined ? state : `${state} for ${formatAge(openMs)}`);
  const details: string[] = [facts.join(', ')];
  if (locks && locks.length > 0) {
    const more = locks.length > LOCKS_SHOWN ? ` and ${locks.length - LOCKS_SHOWN} more` : '';
    details.push(`holds ${locks.slice(0, LOCKS_SHOWN).join(', ')}${more}`);
  }
  if (query) details.push(`${state === 'active' ? 'running' : 'last query'}: ${shorten(query)}`);
  const inside = details.filter(Boolean).join('; ');
  return inside ? `PID ${pid} (${inside})` : `PID ${pid}`;
}

interface SessionRow {
  pid: number;
  application_name: string | null;
  usename: string | null;
  state: string | null;
  query: string | null;
  open_ms: string | null;
}

function toSession(row: SessionRow): SessionInfo {
  return {
    pid: row.pid,
    application: row.application_name || undefined,
    user: row.usename || undefined,
    state: row.state || undefined,
    openMs: row.open_ms === null ? undefined : Number(row.open_ms),
    query: row.query || undefined,
  };
}

function formatAge(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** A statement on one line, cut to a readable length, with any `PASSWORD '…'` literal masked. */
function shorten(query: string): string {
  const line = query
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/(PASSWORD\s+)'(?:[^']|'')*'/gi, "$1'****'");
  return line.length > QUERY_SHOWN ? `${line.slice(0, QUERY_SHOWN - 1)}…` : line;
}
