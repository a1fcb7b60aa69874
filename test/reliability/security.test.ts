// Security properties a user relies on without seeing them: the embedded server is reachable only from this machine's
// 127.0.0.1 and only with a scram password, keeps its files private, and no secret sits where others can read it.
// Covered elsewhere, not repeated here:
// - each run's superuser password is new, and a copy of the cached cluster does not open with the template's old one:
//   test/integration/cluster-template.test.ts ("is made by the first run, copied by the next, each run with its own
//   superuser password"); the cache folder (it holds that password) is mode 0700 there too.
// - no password in any output of the hostile-input cases: test/reliability/hostile-input.test.ts (last test).
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildUrl, parseDatabaseUrl, resolveSettings, type ConnectionParts } from '../../tasks/settings/settings';
import { keptStatePath, writeKeptState } from '../../tasks/settings/kept-state';
import { withClient } from '../../tasks/db/pg-client';
import { query, startTestServer, type TestServer } from '../support/database';
import { REPO_ROOT } from '../support/project';

/** Errors that mean "nothing listens there" (or the address family is off), as opposed to a server that answered. */
const NOT_LISTENING = ['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENETUNREACH', 'EHOSTUNREACH', 'EAFNOSUPPORT'];

describe('security', function () {
  this.timeout(60_000);

  describe('the embedded server', () => {
    let server: TestServer;
    let app: ConnectionParts;
    let superuser: ConnectionParts;
    before(async () => {
      server = await startTestServer();
      app = parseDatabaseUrl(server.database.url, [])!;
      superuser = parseDatabaseUrl(server.database.superuserUrl!, [])!;
    });
    after(() => server?.stop());

    it('listens on 127.0.0.1 only: no other address has its port open, and connecting at 127.0.0.2 or [::1] fails', async () => {
      const [setting] = await query(server.database.superuserUrl!, 'SHOW listen_addresses');
      expect(setting).to.deep.equal({ listen_addresses: '127.0.0.1' });
      expect(listeningAddresses(app.port)).to.deep.equal(['127.0.0.1']);
      // Other addresses of this machine, kept on loopback: traffic here never leaves it.
      for (const host of ['127.0.0.2', '::1']) {
        const code = await connectError(buildUrl({ ...superuser, host }));
        expect(NOT_LISTENING, `connecting at ${host} failed with ${code}, not because nothing listens there`).to.include(code);
      }
    });

    it('requires a scram-sha-256 password on every connection path, and refuses a wrong one with 28P01', async () => {
      const rules = await query<{ type: string; auth_method: string; error: string | null }>(
        server.database.superuserUrl!,
        'SELECT type, auth_method, error FROM pg_hba_file_rules ORDER BY rule_number',
      );
      expect(rules.length).to.be.greaterThan(0);
      expect(
        rules.filter((rule) => rule.auth_method !== 'scram-sha-256' || rule.error !== null),
        'rules that let a connection in without a scram password',
      ).to.deep.equal([]);
      expect(rules.map((rule) => rule.type)).to.include.members(['local', 'host']);
      const stored = await query<{ rolname: string; scram: boolean }>(
        server.database.superuserUrl!,
        `SELECT rolname, rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname IN ('postgres', '${app.user}') ORDER BY 1`,
      );
      expect(stored).to.deep.equal([
        { rolname: app.user, scram: true },
        { rolname: 'postgres', scram: true },
      ]);
      expect(await connectError(buildUrl({ ...app, password: 'guess' }))).to.equal('28P01');
      expect(await connectError(buildUrl({ ...superuser, password: app.password }))).to.equal('28P01');
    });

    it("keeps its files in a temp dir of mode 0700 owned by the server's OS user (not root)", () => {
      const { tempDir, pid } = server.database.keptState!;
      const serverUid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
      if (process.getuid?.() === 0) expect(serverUid, 'the server runs as root').not.to.equal(0);
      for (const dir of [tempDir!, path.join(tempDir!, 'data')]) {
        const info = statSync(dir);
        expect({ dir, mode: (info.mode & 0o777).toString(8), uid: info.uid }).to.deep.equal({ dir, mode: '700', uid: serverUid });
      }
    });

    it("puts no password on the server's command lines or in its log", () => {
      const { tempDir, pid } = server.database.keptState!;
      const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean);
      const commandLines = [String(pid), ...children].map((each) => readFileSync(`/proc/${each}/cmdline`, 'utf8').replaceAll('\0', ' '));
      const log = readFileSync(path.join(tempDir!, 'server.log'), 'utf8');
      for (const password of [app.password, superuser.password]) {
        for (const text of [...commandLines, log]) expect(text.includes(password), text).to.equal(false);
      }
    });
  });

  it('generates a random application password per run when DB_PASSWORD is not set', () => {
    const generated = [1, 2].map(() => resolveSettings({ env: {}, argv: [], cwd: REPO_ROOT, startsDatabase: true }).connection.password);
    expect(generated[0]).not.to.equal(generated[1]);
    for (const password of generated) expect(password).to.match(/^[\w-]{24,}$/);
  });

  it('writes the kept-database record (it holds passwords) private: folder 0700, file 0600', async () => {
    const project = mkdtempSync(path.join(os.tmpdir(), 'security-kept-'));
    try {
      await writeKeptState(project, {
        provider: 'embedded',
        url: 'postgresql://a:b@127.0.0.1:1/c',
        superuserUrl: 'postgresql://d:e@127.0.0.1:1/f',
        startedAt: '',
      });
      const file = keptStatePath(project);
      expect((statSync(path.dirname(file)).mode & 0o777).toString(8)).to.equal('700');
      expect((statSync(file).mode & 0o777).toString(8)).to.equal('600');
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  describe('the repository', () => {
    it('git-ignores .env, .env.local and the kept-database record, and not .env.example', function () {
      if (spawnSync('git', ['rev-parse', '--git-dir'], { cwd: REPO_ROOT }).status !== 0) this.skip();
      const ignored = (file: string) => spawnSync('git', ['check-ignore', '-q', '--no-index', file], { cwd: REPO_ROOT }).status === 0;
      expect({
        '.env': ignored('.env'),
        '.env.local': ignored('.env.local'),
        '.pg-migrate-tasks/kept-database.json': ignored('.pg-migrate-tasks/kept-database.json'),
        '.env.example': ignored('.env.example'),
      }).to.deep.equal({ '.env': true, '.env.local': true, '.pg-migrate-tasks/kept-database.json': true, '.env.example': false });
      expect(execFileSync('git', ['ls-files', '--', '.env', '.pg-migrate-tasks'], { cwd: REPO_ROOT, encoding: 'utf8' }), 'committed anyway').to.equal('');
    });

    it('.env.example holds no real secret: every password, also in commented-out lines and URLs, is a change-me placeholder', () => {
      const text = readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8');
      const settings = [...text.matchAll(/^#?\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(([, name, value]) => ({ name: name!, value: value!.trim() }));
      const secrets = settings.flatMap(({ name, value }) => {
        const found: { name: string; value: string }[] = [];
        if (/PASSWORD|SECRET|TOKEN|KEY/.test(name)) found.push({ name, value });
        const inUrl = /^\w+:\/\/[^:/@]*:([^@]*)@/.exec(value);
        if (inUrl) found.push({ name: `${name} (password in the URL)`, value: decodeURIComponent(inUrl[1]!) });
        return found;
      });
      expect(secrets.map(({ name }) => name)).to.include.members(['DB_PASSWORD', 'DATABASE_URL (password in the URL)']);
      for (const { name, value } of secrets) expect(value, name).to.match(/^(change-me[\w-]*)?$/);
    });
  });
});

/** The error code of a connection attempt to `url` (it must fail). */
async function connectError(url: string): Promise<string | undefined> {
  try {
    await withClient(url, async () => undefined, 3_000);
  } catch (error) {
    return (error as { code?: string }).code;
  }
  throw new Error(`connecting to ${new URL(url).host} succeeded`);
}

/** The local addresses (IPv4 and IPv6) with a listening TCP socket on `port`, from the kernel's socket tables. */
function listeningAddresses(port: number): string[] {
  const addresses: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [hex, portHex] = local!.split(':');
      if (state === '0A' && parseInt(portHex!, 16) === port) addresses.push(decodeAddress(hex!));
    }
  }
  return addresses.sort();
}

/** /proc/net/tcp writes addresses as little-endian 32-bit hex words. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g)!.map((word) => word.match(/../g)!.reverse().join(''));
  if (words.length === 1)
    return words[0]!
      .match(/../g)!
      .map((byte) => parseInt(byte, 16))
      .join('.');
  return words.join('').match(/.{4}/g)!.join(':');
}
