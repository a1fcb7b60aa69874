/**
 * Findings that mean node-pg-migrate cannot load or run the migration at all (or the lint setup itself is broken):
 * they block every run, on every database, history included. Every other rule judges whether a migration is safe or
 * tidy for production, which matters for a new migration on a database others use, not for history nor for a
 * throw-away database nobody else is connected to.
 */
export const RUNNABILITY_RULES: ReadonlySet<string> = new Set([
  'name-pattern',
  'duplicate-timestamp',
  'syntax-error',
  'load-error',
  'missing-up',
  'concurrently-in-transaction',
  'sql-syntax-error',
  'render-error',
  'unknown-rule',
  'invalid-config',
]);

/** Whether a finding of this rule stops a migration from running at all. */
export function blocksRunning(ruleId: string): boolean {
  return RUNNABILITY_RULES.has(ruleId);
}
