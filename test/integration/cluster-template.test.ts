import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cleanups } from '../../tasks/util/cleanups';
import { resolveSettings } from '../../tasks/settings/settings';
import { withClient } from '../../tasks/db/pg-client';
import { clusterCacheDir, templateKey } from '../../tasks/providers/cluster-template';
import { embeddedProvider } from '../../tasks/providers/embedded';
import type { StartedDatabase } from '../../tasks/providers/types';
import { query, serverProcessesFor } from '../support/database';
import { createTestProject, REPO_ROOT, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

describe('embedded provider: the cached, pre-initialised cluster', function () {
  this.timeout(60_000);
  let project: TestProject;
  let cacheDir: string;
  const started: StartedDatabase[] = [];

  beforeEach(() => {
    project = createTestProject();
    cacheDir = path.join(project.dir, 'cluster-cache');
  });
  afterEach(async () => {
    for (const database of started.splice(0)) await database.stop();
    project.remove();
  });

  async function start(env: Record<string, string> = {}): Promise<{ database: StartedDatabase; logger: RecordingLogger }> {
    const logger = createRecordingLogger();
    const config = resolveSettings({
      env: { DB_NAME: 'hub', DB_USER: 'hub_owner', DB_PASSWORD: 'app-secret', DB_CLUSTER_CACHE: cacheDir, ...env },
      argv: [],
      cwd: project.dir,
      startsDatabase: true,
    });
    const database = await embeddedProvider.start(config, { logger, cleanups: new Cleanups(), secrets: new Set() });
    started.push(database);
    return { database, logger };
  }

  /** The templates' folders (the cache also holds binaries.json, the binaries' versions). */
  const templates = () =>
    existsSync(cacheDir)
      ? readdirSync(cacheDir, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name)
      : [];
  const superPassword = (database: StartedDatabase) => decodeURIComponent(new URL(database.superuserUrl!).password);

  it('is made by the first run, copied by the next, each run with its own superuser password', async () => {
    const first = await start();
    expect(first.logger.text()).to.include('info: Cached the prepared cluster for the next runs');
    expect(templates()).to.have.length(1);
    expect(statSync(cacheDir).mode & 0o777, 'the cache holds a password: private').to.equal(0o700);

    const second = await start();
    expect(second.logger.text()).to.match(/debug: Copied the cached cluster pg[\d.]+-[0-9a-f]{16}/);
    expect(second.logger.text()).not.to.include('initdb');
    // The copy is a whole prepared cluster: the application role and database exist, with the configured password.
    const [row] = await query(second.database.url, 'SELECT current_user AS role, current_database() AS db');
    expect(row).to.deep.equal({ role: 'hub_owner', db: 'hub' });
    // The template's superuser password (the first run's) no longer opens the second server.
    expect(superPassword(second.database)).not.to.equal(superPassword(first.database));
    const withTemplatePassword = second.database.superuserUrl!.replace(
      encodeURIComponent(superPassword(second.database)),
      encodeURIComponent(superPassword(first.database)),
    );
    let code: string | undefined;
    await withClient(withTemplatePassword, async () => undefined).catch((error: { code?: string }) => (code = error.code));
    expect(code).to.equal('28P01');
  });

  it("makes the next run's copy while this one runs: the next run takes it, and it holds nothing of this run", async () => {
    const first = await start();
    const [key] = templates();
    await first.database.stop(); // a run's stop waits for the copy it was making
    expect(readdirSync(path.join(cacheDir, key!)).sort(), 'the spare, complete, and no staging folder').to.deep.equal(['data', 'spare', 'superuser-password']);

    const second = await start();
    expect(second.logger.text()).to.match(/debug: Copied the cached cluster pg[\d.]+-[0-9a-f]{16} \(the copy an earlier run made in advance\)/);
    // From the second run on, the versions of the binaries are remembered (private, as the cache).
    expect(statSync(path.join(cacheDir, 'binaries.json')).mode & 0o777).to.equal(0o600);
    await query(second.database.url, 'CREATE TABLE made_by_second_run (id int)');
    await second.database.stop();

    const third = await start();
    expect(third.logger.text()).to.include('(the copy an earlier run made in advance)');
    expect(await query(third.database.url, "SELECT to_regclass('public.made_by_second_run') IS NULL AS clean")).to.deep.equal([{ clean: true }]);
  });

  it('sets the application password of this run on a copied cluster', async () => {
    await start({ DB_PASSWORD: 'first-password' });
    const { database } = await start({ DB_PASSWORD: 'other p@ss:w/rd' });
    expect(database.url).to.include(encodeURIComponent('other p@ss:w/rd'));
    const [row] = await query(database.url, 'SELECT current_user AS role');
    expect(row).to.deep.equal({ role: 'hub_owner' });
  });

  it('makes a new template when the init scripts or the application database change', async () => {
    const scripts = path.join(project.dir, 'postgres', 'init');
    cpSync(path.join(REPO_ROOT, 'postgres', 'init'), scripts, { recursive: true });
    await start();
    expect(templates()).to.have.length(1);

    writeFileSync(path.join(scripts, '90-extra.sql'), 'CREATE TABLE made_by_init_script (id int);\n');
    const changed = await start();
    expect(changed.logger.text()).to.include('Cached the prepared cluster');
    expect(await query(changed.database.url, "SELECT to_regclass('public.made_by_init_script') IS NOT NULL AS made")).to.deep.equal([{ made: true }]);
    expect(templates()).to.have.length(2);

    await start({ DB_NAME: 'other_db' });
    expect(templates()).to.have.length(3);
  });

  it('is safe when two runs start at once with an empty cache', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    for (const { database } of [a, b]) expect(await query(database.url, 'SELECT 1 AS ok')).to.deep.equal([{ ok: 1 }]);
    expect(templates(), 'one template, no staging folder left').to.have.length(1);
    const said = [a, b].filter(({ logger }) => logger.text().includes('Cached the prepared cluster'));
    expect(said, 'only the run whose copy was stored says so').to.have.length(1);
    expect(templates()[0]).to.match(/^pg/);
    const third = await start();
    expect(third.logger.text()).to.include('Copied the cached cluster');
  });

  it('ignores an incomplete template and a cache folder that is not private to this user', async () => {
    await start();
    const [key] = templates();
    rmSync(path.join(cacheDir, key!, 'data', 'PG_VERSION'));
    const afterDamage = await start();
    expect(afterDamage.logger.text()).to.include('debug: initdb');
    expect(await query(afterDamage.database.url, 'SELECT 1 AS ok')).to.deep.equal([{ ok: 1 }]);

    if (process.getuid?.() === 0) {
      rmSync(cacheDir, { recursive: true });
      mkdirSync(cacheDir);
      chownSync(cacheDir, 65534, 65534);
      chmodSync(cacheDir, 0o777);
      const foreign = await start();
      expect(foreign.logger.text()).to.include('debug: initdb');
      expect(foreign.logger.text()).not.to.include('Cached the prepared cluster');
      expect(readdirSync(cacheDir)).to.deep.equal([]);
    }
  });

  /**
   * A cache holding one template and its spare, as a first run leaves it: made once for the tests that damage it, then
   * copied (owners and modes kept) into each test's cache folder.
   */
  let pristine: string | undefined;
  async function cachedTemplate(): Promise<string> {
    if (pristine) {
      execFileSync('cp', ['-a', pristine, cacheDir]);
    } else {
      const first = await start();
      await first.database.stop();
      pristine = path.join(mkdtempSync(path.join(os.tmpdir(), 'pgmt-pristine-cache-')), 'cache');
      execFileSync('cp', ['-a', cacheDir, pristine]);
    }
    return templates()[0]!;
  }
  after(() => {
    if (pristine) rmSync(path.dirname(pristine), { recursive: true, force: true });
  });

  it('a damaged template (truncated pg_control) is discarded: the run falls back to initdb, says so, and caches a good one', async () => {
    const key = await cachedTemplate();
    // A crash while the cache was written, a full disk: the template's control file cut short (and its spare with it).
    for (const dataDir of [path.join(cacheDir, key!, 'data'), path.join(cacheDir, key!, 'spare')]) {
      if (existsSync(path.join(dataDir, 'global', 'pg_control'))) writeFileSync(path.join(dataDir, 'global', 'pg_control'), 'cut short');
    }
    const { database, logger } = await start();
    expect(logger.text()).to.match(new RegExp(`^warn: The cached cluster ${key} did not start \\(.+\\): discarded it; running initdb instead$`, 'm'));
    expect(await query(database.url, 'SELECT 1 AS one')).to.deep.equal([{ one: 1 }]);
    await database.stop();
    const { logger: next } = await start();
    expect(next.text()).not.to.include('did not start');
    expect(next.text()).to.include(`Copied the cached cluster ${key}`);
  });

  it('a template whose application database is damaged (a page of its pg_class) but that starts: discarded too, initdb instead, no waiting', async () => {
    const key = await cachedTemplate();
    // The application database is the one created after initdb's (oids from 16384 on); block 0 of its pg_class overwritten.
    for (const dataDir of [path.join(cacheDir, key!, 'data'), path.join(cacheDir, key!, 'spare')]) {
      if (!existsSync(dataDir)) continue;
      const oids = readdirSync(path.join(dataDir, 'base'))
        .map(Number)
        .filter((oid) => oid >= 16_384);
      expect(oids, dataDir).to.have.length(1);
      const pgClass = path.join(dataDir, 'base', String(oids[0]), '1259');
      const file = openSync(pgClass, 'r+');
      writeSync(file, Buffer.alloc(8192, 0x5a), 0, 8192, 0);
      closeSync(file);
    }
    const started = Date.now();
    const { database, logger } = await start();
    expect(Date.now() - started, 'waited for a server that would never do').to.be.below(20_000);
    // Before, the copy started, and every connection to the database failed ("invalid page in block 0 of relation …").
    expect(logger.text()).to.match(
      new RegExp(`^warn: The cached cluster ${key} did not start \\(.*invalid page in block 0.*\\): discarded it; running initdb instead$`, 'm'),
    );
    expect(await query(database.url, 'SELECT count(*)::int AS n FROM pg_class WHERE relname = $$pg_class$$')).to.deep.equal([{ n: 1 }]);
  });

  it('DB_CLUSTER_CACHE=off runs initdb every time and writes no cache', async () => {
    const { database, logger } = await start({ DB_CLUSTER_CACHE: 'off' });
    expect(logger.text()).to.include('debug: initdb');
    expect(existsSync(cacheDir)).to.equal(false);
    await database.stop();
    expect(serverProcessesFor(database.keptState!.tempDir!)).to.deep.equal([]);
  });

  it('is kept under the nearest node_modules/.cache by default, keyed by binaries, options and what was prepared', () => {
    expect(clusterCacheDir(project.dir, undefined)).to.equal(path.join(REPO_ROOT, 'node_modules', '.cache', 'pg-migrate-tasks', 'clusters'));
    expect(clusterCacheDir(project.dir, 'cache')).to.equal(path.join(project.dir, 'cache'));
    const binaries = { binDir: '/opt/pg/bin', version: '18.4' };
    const key = templateKey(binaries, ['-E', 'UTF8'], { scripts: [['a.sql', 'SELECT 1']] });
    expect(key).to.match(/^pg18\.4-[0-9a-f]{16}$/);
    expect(templateKey(binaries, ['-E', 'UTF8'], { scripts: [['a.sql', 'SELECT 1']] })).to.equal(key);
    expect(templateKey(binaries, ['-E', 'UTF8'], { scripts: [['a.sql', 'SELECT 2']] })).not.to.equal(key);
    expect(templateKey({ ...binaries, version: '18.5' }, ['-E', 'UTF8'], { scripts: [['a.sql', 'SELECT 1']] })).not.to.equal(key);
    expect(templateKey(binaries, ['-E', 'SQL_ASCII'], { scripts: [['a.sql', 'SELECT 1']] })).not.to.equal(key);
  });
});
