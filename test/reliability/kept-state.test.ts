// The kept database's record (.pg-migrate-tasks/kept-database.json) is the only way later runs find a server that
// outlives its run. A damaged record or two runs at once must never leave a server running that nothing can stop.
import { expect } from 'chai';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keptStatePath, type KeptDatabaseState } from '../../tasks/settings/kept-state';
import { serverProcessesFor } from '../support/database';
import { createTestProject, runGulp, type TestProject } from '../support/project';

describe('the kept database record', function () {
  this.timeout(120_000);
  let project: TestProject;
  let tmp: string;
  let env: Record<string, string>;
  beforeEach(() => {
    project = createTestProject();
    project.addMigrations('starter');
    // A TMPDIR of the test's own: every server these runs start is under it, so none can be missed.
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgmt-kept-state-'));
    chmodSync(tmp, 0o755);
    env = { DB_PROVIDER: 'embedded', TMPDIR: tmp };
  });
  afterEach(async () => {
    await runGulp(['db:stop'], { cwd: project.dir, env });
    for (const pid of serverProcessesFor(tmp)) process.kill(pid, 'SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    project.remove();
  });
  const record = () => JSON.parse(readFileSync(keptStatePath(project.dir), 'utf8')) as KeptDatabaseState;

  it('cut short (a crash, a full disk): KEEP_DB=1 refuses naming the file, no second server; db:stop stops the kept one from its run record', async () => {
    const start = await runGulp(['db:start'], { cwd: project.dir, env });
    expect(start.code, start.output).to.equal(0);
    const { tempDir } = record();
    writeFileSync(keptStatePath(project.dir), '{"provider": "embedded", "url": "postgresql://');

    const kept = await runGulp(['migrate:local'], { cwd: project.dir, env: { ...env, KEEP_DB: '1' } });
    expect(kept.code, kept.output).to.equal(1);
    expect(kept.output).to.include("the kept database's record .pg-migrate-tasks/kept-database.json cannot be read (it is not a complete record)");
    expect(kept.output).to.include('hint: `gulp db:stop` stops the kept server from its own run record and removes the damaged one; then run again');
    expect(
      serverProcessesFor(tmp).filter((pid) => !serverProcessesFor(tempDir!).includes(pid)),
      'a second server',
    ).to.deep.equal([]);

    const stop = await runGulp(['db:stop'], { cwd: project.dir, env });
    expect(stop.code, stop.output).to.equal(0);
    expect(stop.output).to.match(/Stopped a kept embedded server of this project found from its run record \(PID \d+\)/);
    expect(serverProcessesFor(tmp)).to.deep.equal([]);
    expect(existsSync(keptStatePath(project.dir))).to.equal(false);
  });

  it('a kept server that was killed: the next KEEP_DB=1 run removes its files, says so, and starts a new one', async () => {
    const start = await runGulp(['db:start'], { cwd: project.dir, env });
    expect(start.code, start.output).to.equal(0);
    const { tempDir, pid } = record();
    process.kill(pid!, 'SIGKILL');
    for (let waited = 0; serverProcessesFor(tempDir!).length > 0 && waited < 5_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));

    const next = await runGulp(['migrate:local'], { cwd: project.dir, env: { ...env, KEEP_DB: '1' } });
    expect(next.code, next.output).to.equal(0);
    // Before, its data dir (the whole cluster) stayed in the temp folder for good.
    expect(existsSync(tempDir!), `${tempDir} was left behind`).to.equal(false);
    expect(next.output).to.include(`is no longer running (it was killed, or the machine restarted): removed its files, ${tempDir}`);
    expect(record().tempDir).not.to.equal(tempDir);
  });

  it('two `gulp db:start` at once: one server starts, the other run reuses it, and one db:stop leaves nothing running', async () => {
    const [first, second] = await Promise.all([runGulp(['db:start'], { cwd: project.dir, env }), runGulp(['db:start'], { cwd: project.dir, env })]);
    expect(first!.code, first!.output).to.equal(0);
    expect(second!.code, second!.output).to.equal(0);
    const outputs = [first!.output, second!.output];
    expect(
      outputs.filter((output) => output.includes('Reusing the kept database')),
      outputs.join('\n---\n'),
    ).to.have.length(1);
    const stop = await runGulp(['db:stop'], { cwd: project.dir, env });
    expect(stop.code, stop.output).to.equal(0);
    expect(serverProcessesFor(tmp)).to.deep.equal([]);
  });
});
