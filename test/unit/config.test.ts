import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildUrl, parseDatabaseUrl, resolveSettings, type ConnectionSettings } from '../../tasks/settings/settings';
import { TaskError } from '../../tasks/util/errors';

describe('resolveSettings', () => {
  let cwd: string;
  beforeEach(() => (cwd = mkdtempSync(path.join(os.tmpdir(), 'pgmt-config-'))));
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  const resolve = (env: Record<string, string>, argv: string[] = [], startsDatabase = false) => resolveSettings({ env, argv, cwd, startsDatabase });
  /** The parts of the connection (host, port, database, user, password). */
  const partsOf = ({ host, port, database, user, password }: ConnectionSettings) => ({ host, port, database, user, password });
  const failure = (env: Record<string, string>, argv: string[] = [], startsDatabase = false): TaskError => {
    try {
      resolve(env, argv, startsDatabase);
    } catch (error) {
      expect(error).to.be.instanceOf(TaskError);
      return error as TaskError;
    }
    throw new Error('expected resolveSettings to fail');
  };
  const parts = { DB_HOST: 'db.local', DB_PORT: '6543', DB_NAME: 'contenthub', DB_USER: 'contentuser', DB_PASSWORD: 'secret' };

  it('names every missing DB_* variable when no connection is configured', () => {
    const error = failure({ DB_PORT: '5432', DB_NAME: 'contenthub', DB_USER: 'contentuser' });
    expect(error.message.split('\n')[0]).to.equal(
      'DATABASE_URL is required: set it, or set DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (missing: DB_HOST, DB_PASSWORD)',
    );
    expect(error.hint).to.equal(
      'point DATABASE_URL (or DB_*) in .env at a running database (`gulp db:start` starts one that stays up), or use `gulp migrate:local` for a throw-away one; then run the command again',
    );
  });

  it('uses DATABASE_URL as given, query string included', () => {
    const config = resolve({ DATABASE_URL: 'postgresql://app:pw@db.example.com:6000/hub?sslmode=require' });
    expect(config.connection.url).to.equal('postgresql://app:pw@db.example.com:6000/hub?sslmode=require');
    expect(partsOf(config.connection)).to.deep.equal({ host: 'db.example.com', port: 6000, database: 'hub', user: 'app', password: 'pw' });
    expect(config.connection.source).to.equal('DATABASE_URL');
  });

  it('assembles the URL from DB_* and percent-encodes a password with @:/?#% characters', () => {
    const password = 'p@ss:w/rd?#%';
    const config = resolve({ ...parts, DB_PASSWORD: password });
    expect(config.connection.url).to.equal('postgresql://contentuser:p%40ss%3Aw%2Frd%3F%23%25@db.local:6543/contenthub');
    expect(parseDatabaseUrl(config.connection.url, [])?.password).to.equal(password);
  });

  it('rejects a malformed DATABASE_URL, naming the variable and never echoing the password', () => {
    const error = failure({ DATABASE_URL: 'postgresql://app:hunter2@db:port/hub' });
    expect(error.message).to.match(/^DATABASE_URL is not a valid URL \(expected postgresql:\/\/USER:PASSWORD@HOST:PORT\/DATABASE/);
    expect(error.message).not.to.include('hunter2');
    expect(failure({ DATABASE_URL: 'mysql://app:pw@db/hub' }).message).to.match(/^DATABASE_URL must start with postgresql:\/\//);
  });

  it('rejects a non-numeric DB_PORT, naming it', () => {
    expect(failure({ ...parts, DB_PORT: 'abc' }).message).to.match(/^DB_PORT must be a port number from 1 to 65535, got "abc"/);
  });

  it('reports every problem at once', () => {
    const error = failure({ DB_PORT: 'abc', KEEP_DB: 'maybe', DB_PROVIDER: 'podman' }, ['--count', 'x', '--direction', 'sideways'], true);
    expect(error.message).to.equal(
      [
        '5 configuration problems:',
        '  - DB_PROVIDER must be one of: auto, embedded, docker, compose, external, pglite (got "podman")',
        '  - KEEP_DB must be 1 or 0 (or true/false), got "maybe"',
        '  - DB_PORT must be a port number from 1 to 65535, got "abc"',
        '  - --direction must be one of: up, down (got "sideways")',
        '  - --count must be a positive whole number or "all", got "x"',
        '  hint: fix the environment or .env (see .env.example); fix the flag (`gulp --tasks` lists every task with its flags); then run the command again',
      ].join('\n'),
    );
  });

  it('validates --count and --direction', () => {
    expect(failure(parts, ['--count', '-1']).message).to.match(/^--count must be a positive whole number or "all", got "-1"/);
    expect(failure(parts, ['--count', '0']).message).to.match(/got "0"/);
    expect(resolve(parts, ['--count', 'all']).run.count).to.equal(Number.POSITIVE_INFINITY);
    expect(resolve(parts, ['--direction', 'down', '--count', '2']).run).to.include({ direction: 'down', count: 2 });
  });

  it('loads .env, and real environment variables win over it', () => {
    writeFileSync(path.join(cwd, '.env'), 'DB_HOST=from-file\nDB_PORT=5432\nDB_NAME=hub\nDB_USER=u\nDB_PASSWORD=file-pw\nthis line is garbage\n');
    const config = resolve({ DB_HOST: 'from-env' });
    expect(partsOf(config.connection)).to.deep.equal({ host: 'from-env', port: 5432, database: 'hub', user: 'u', password: 'file-pw' });
    expect(config.envFile).to.equal(path.join(cwd, '.env'));
  });

  it('falls back to the guide defaults, with a generated password, when it starts its own database', () => {
    const config = resolve({}, [], true);
    expect(config.connection).to.include({ database: 'contenthub', user: 'contentuser' });
    expect(config.connection.password).to.have.length.greaterThan(16);
    expect(config.connection.passwordGenerated).to.equal(true);
    expect(config.provider.name).to.equal('auto');
    expect(resolve({}, [], true).connection.password).not.to.equal(config.connection.password);
  });

  it('requires a connection for the external provider even when starting databases', () => {
    expect(failure({ DB_PROVIDER: 'external' }, [], true).message).to.match(/^DATABASE_URL is required/);
  });

  it('reads the wait timeout in seconds from --timeout or DB_WAIT_TIMEOUT', () => {
    expect(resolve({ ...parts, DB_WAIT_TIMEOUT: '2.5' }).connection.waitTimeoutMs).to.equal(2_500);
    expect(resolve({ ...parts, DB_WAIT_TIMEOUT: '2.5' }, ['--timeout', '1']).connection.waitTimeoutMs).to.equal(1_000);
    expect(failure({ ...parts }, ['--timeout', 'soon']).message).to.match(/^--timeout must be a positive number of seconds, got "soon"/);
  });

  it('reports a missing --dotenv file', () => {
    expect(failure(parts, ['--dotenv', 'nope.env']).message).to.equal(
      '--dotenv nope.env: no such file\n  hint: fix the flag (`gulp --tasks` lists every task with its flags); then run the command again',
    );
  });

  it('rejects a misspelt flag, suggesting the right one, and leaves gulp-cli its own flags', () => {
    expect(failure(parts, ['migrate', '--dirction', 'down', '--countt=2']).message).to.equal(
      [
        '2 configuration problems:',
        '  - unknown flag --dirction (did you mean --direction?)',
        '  - unknown flag --countt (did you mean --count?)',
        '  hint: fix the flag (`gulp --tasks` lists every task with its flags); then run the command again',
      ].join('\n'),
    );
    expect(failure(parts, ['--frobnicate']).message).to.match(/^unknown flag --frobnicate\n/);
    expect(() =>
      resolve(parts, ['migrate', '--cwd', '/tmp', '--gulpfile', 'g.ts', '-LLLL', '--no-color', '--continue', '--no-single-transaction']),
    ).not.to.throw();
  });

  it('rejects a flag of ours that the running task does not take, listing the ones it does', () => {
    const resolveFor = (argv: string[]) => () =>
      resolveSettings({ env: parts, argv, cwd, startsDatabase: false, allowedFlags: ['count', 'timeout', 'singleTransaction'] });
    expect(resolveFor(['migrate:redo', '--name', 'x', '--dry-run'])).to.throw(
      TaskError,
      '--name, --dry-run do not apply to this task (it takes --count, --timeout, --no-single-transaction)\n' +
        '  hint: fix the flag (`gulp --tasks` lists every task with its flags); then run the command again',
    );
    expect(resolveFor(['migrate:redo', '--count', '2', '--no-single-transaction'])).not.to.throw();
  });

  it('neither needs nor checks connection settings for a task that never connects', () => {
    const env = { DB_PORT: 'abc', DB_PROVIDER: 'bogus', DB_WAIT_TIMEOUT: '-3', KEEP_DB: 'maybe' };
    const config = resolveSettings({ env, argv: ['migrate:create', '--name', 'x'], cwd, startsDatabase: false, connects: false });
    expect(config.command.name).to.equal('x');
    expect(() => resolveSettings({ env, argv: [], cwd, startsDatabase: false })).to.throw(TaskError, /5 configuration problems/);
  });

  it('reports a missing migrations folder before anything starts, when asked to', () => {
    const check = (argv: string[]) => () => resolveSettings({ env: parts, argv, cwd, startsDatabase: true, migrates: true });
    expect(check(['--migrations-dir', 'nope'])).to.throw(
      TaskError,
      'migrations folder nope/ does not exist (set MIGRATIONS_DIR or --migrations-dir to the folder that holds them)\n' +
        '  hint: fix the flag (`gulp --tasks` lists every task with its flags); then run the command again',
    );
    mkdirSync(path.join(cwd, 'nope'));
    expect(check(['--migrations-dir', 'nope'])).not.to.throw();
  });
});

describe('buildUrl', () => {
  it('brackets IPv6 hosts and encodes user and database', () => {
    expect(buildUrl({ host: '::1', port: 5432, database: 'my db', user: 'üser', password: '' })).to.equal('postgresql://%C3%BCser@[::1]:5432/my%20db');
  });
});
