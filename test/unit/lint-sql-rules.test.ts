import { expect } from 'chai';
import { loadSqlParser, parseSql, sqlComments } from '../../tasks/lint/sql-parser';
import { checkStatements, SQL_RULES, type SqlRuleContext } from '../../tasks/lint/sql-rules';

/**
 * `rule-id@n`: rule and the 1-based statement it is about, in order. missing-lock-timeout (off by default: the engine
 * drops it) only when asked for.
 */
function findings(sql: string, context: Partial<SqlRuleContext> = {}, { lockTimeout = false } = {}): string[] {
  const { statements, errors } = parseSql(sql);
  expect(errors, 'the SQL must parse').to.deep.equal([]);
  return checkStatements(statements, { usesTransaction: true, kind: 'sql', ...context })
    .filter((finding) => lockTimeout || finding.ruleId !== 'missing-lock-timeout')
    .map((finding) => `${finding.ruleId}@${finding.statement + 1}`);
}

describe('SQL lint rules (on PostgreSQL parse trees)', () => {
  before(() => loadSqlParser());

  it('every rule has a one-line description and a default severity', () => {
    for (const rule of SQL_RULES) {
      expect(rule.id).to.match(/^[a-z]+(-[a-z]+)*$/);
      expect(rule.description).to.not.include('\n');
      expect(['error', 'warning', 'info', 'off']).to.include(rule.defaultSeverity);
    }
    expect(SQL_RULES.find((rule) => rule.id === 'missing-lock-timeout')?.defaultSeverity).to.equal('off');
  });

  it('knows tables created earlier in the migration, also through CREATE TABLE AS, SELECT INTO and a rename', () => {
    expect(findings('CREATE TABLE a (id int); CREATE INDEX ON a (id); CREATE INDEX ON b (id);')).to.deep.equal(['create-index-not-concurrently@3']);
    expect(findings('CREATE TABLE s.a (id int); CREATE INDEX ON a (id); CREATE INDEX ON s.a (id); CREATE INDEX ON t.a (id);')).to.deep.equal([
      'create-index-not-concurrently@4',
    ]);
    expect(findings('CREATE TABLE c AS SELECT 1 AS id; SELECT 1 AS id INTO d; CREATE INDEX ON c (id); CREATE INDEX ON d (id);')).to.deep.equal([]);
    expect(findings('CREATE TABLE e (id int); ALTER TABLE e RENAME TO f; CREATE INDEX ON f (id); DROP TABLE f;')).to.deep.equal([]);
  });

  it('tells volatile defaults (a table rewrite) from stable ones (PostgreSQL 11+: none)', () => {
    const volatile = [
      'random()',
      'clock_timestamp()',
      'gen_random_uuid()',
      'uuid_generate_v4()',
      "nextval('s')",
      '(random() * 100)::int',
      'public.uuid_generate_v1()',
    ];
    for (const expression of volatile)
      expect(findings(`ALTER TABLE t ADD COLUMN c int DEFAULT ${expression};`), expression).to.deep.equal(['add-column-volatile-default@1']);
    const stable = ['now()', 'current_timestamp', 'statement_timestamp()', "'x'", '0', "'now'::timestamptz"];
    for (const expression of stable) expect(findings(`ALTER TABLE t ADD COLUMN c text DEFAULT ${expression};`), expression).to.deep.equal([]);
    expect(findings('ALTER TABLE t ADD COLUMN id bigserial;')).to.deep.equal(['add-column-volatile-default@1']);
  });

  it('reports NOT NULL without a default, except where PostgreSQL fills the column (identity, serial)', () => {
    expect(findings('ALTER TABLE t ADD COLUMN a int NOT NULL, ADD COLUMN b int PRIMARY KEY;')).to.deep.equal([
      'add-column-not-null-without-default@1',
      'add-column-not-null-without-default@1',
    ]);
    expect(findings('ALTER TABLE t ADD COLUMN a int NOT NULL DEFAULT 0, ADD COLUMN b int GENERATED ALWAYS AS IDENTITY NOT NULL;')).to.deep.equal([]);
  });

  it('asks for NOT VALID on table and column constraints of existing tables only', () => {
    expect(findings('ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT c;')).to.deep.equal([]);
    expect(findings('ALTER TABLE t ADD COLUMN u int REFERENCES u;')).to.deep.equal(['constraint-without-not-valid@1']);
    expect(findings('ALTER TABLE t ADD CONSTRAINT p PRIMARY KEY (id), ADD CONSTRAINT k UNIQUE (a);')).to.deep.equal([]);
  });

  it('counts SET lock_timeout (also set_config) before the first lock-taking statement; 0 and RESET do not count', () => {
    const withLockTimeout = (sql: string) => findings(sql, {}, { lockTimeout: true });
    expect(withLockTimeout('ALTER TABLE t ADD COLUMN a text; ALTER TABLE t ADD COLUMN b text;')).to.deep.equal(['missing-lock-timeout@1']);
    expect(withLockTimeout("SET lock_timeout = '2s'; ALTER TABLE t ADD COLUMN a text;")).to.deep.equal([]);
    expect(withLockTimeout("SELECT set_config('lock_timeout', '2s', true); ALTER TABLE t ADD COLUMN a text;")).to.deep.equal([]);
    expect(withLockTimeout('SET lock_timeout = 0; ALTER TABLE t ADD COLUMN a text;')).to.deep.equal(['missing-lock-timeout@2']);
    expect(withLockTimeout("SET lock_timeout = '1s'; RESET lock_timeout; DROP TABLE t;")).to.deep.equal(['missing-lock-timeout@3', 'drop-table@3']);
    expect(withLockTimeout('CREATE TABLE n (id int); ALTER TABLE n ADD COLUMN a text; CREATE INDEX ON n (a);')).to.deep.equal([]);
  });

  it('reports CONCURRENTLY in a transaction for CREATE INDEX, DROP INDEX and REINDEX, and not without one', () => {
    const sql = 'CREATE INDEX CONCURRENTLY i ON t (a); DROP INDEX CONCURRENTLY j; REINDEX INDEX CONCURRENTLY k;';
    expect(findings(sql)).to.deep.equal(['concurrently-in-transaction@1', 'concurrently-in-transaction@2', 'concurrently-in-transaction@3']);
    expect(findings(sql, { usesTransaction: false })).to.deep.equal([]);
  });

  it('reports transaction control at the top level (BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT), not inside DO blocks or functions', () => {
    expect(
      findings('CREATE TABLE a (id int); COMMIT; BEGIN; CREATE TABLE b (id int); SAVEPOINT s; ROLLBACK TO SAVEPOINT s; RELEASE SAVEPOINT s; END; ROLLBACK;'),
    ).to.deep.equal([
      'transaction-control@2',
      'transaction-control@3',
      'transaction-control@5',
      'transaction-control@6',
      'transaction-control@7',
      'transaction-control@8',
      'transaction-control@9',
    ]);
    expect(findings('DO $$ BEGIN PERFORM 1; END $$; CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;')).to.deep.equal([]);
    const [finding] = checkStatements(parseSql('COMMIT;').statements, { usesTransaction: true, kind: 'builder' });
    expect(finding?.message).to.equal(
      'COMMIT in a migration: node-pg-migrate runs it in a transaction it opens and ends itself, so COMMIT here acts behind its back, and a later failure leaves part of the run applied',
    );
  });

  it('flags an explicit length only: varchar(n) and char(n), not char, varchar or text', () => {
    expect(findings('CREATE TABLE t (a varchar(10), b character(2), c char, d varchar, e text, f "char");')).to.deep.equal(['prefer-text@1', 'prefer-text@1']);
    expect(findings('ALTER TABLE t ALTER COLUMN a TYPE varchar(5);')).to.deep.equal(['prefer-text@1', 'alter-column-type@1']);
  });

  it('names the type as written in alter-column-type', () => {
    const { statements } = parseSql('ALTER TABLE t ALTER COLUMN a TYPE numeric(10, 2);');
    const [finding] = checkStatements(statements, { usesTransaction: true, kind: 'sql' }).filter(({ ruleId }) => ruleId === 'alter-column-type');
    expect(finding!.message).to.equal(
      'ALTER COLUMN "a" TYPE numeric(10, 2) on existing table "t" may rewrite the table and its indexes under an ACCESS EXCLUSIVE lock',
    );
  });

  it('parses statement by statement when one does not parse, with character offsets (not UTF-8 bytes)', () => {
    const sql = "SELECT 'é'; SELEC 2; DROP TABLE t;";
    const { statements, errors } = parseSql(sql);
    expect(statements.map((statement) => [statement.kind, statement.start, statement.text])).to.deep.equal([
      ['SelectStmt', 0, "SELECT 'é'"],
      ['DropStmt', 21, 'DROP TABLE t'],
    ]);
    expect(errors).to.deep.equal([{ message: 'syntax error at or near "SELEC"', offset: 12 }]);
    expect(sqlComments("SELECT '-- not a comment'; -- a comment\n/* another */")).to.deep.equal([
      { text: '-- a comment', start: 27, end: 39 },
      { text: '/* another */', start: 40, end: 53 },
    ]);
  });
});
