import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { COMMAND_IDS, COMMANDS } from '../../tasks/gulp/commands';
import { createTestProject, REPO_ROOT, runGulp, type TestProject } from '../support/project';

/** The task tree `gulp --tasks` prints, without its first line (which names the gulpfile). */
function tree(output: string): string[] {
  const lines = output.split('\n').filter((line) => /^[│├└ ]/.test(line) && !line.includes('Preloading'));
  return lines;
}

describe('a team gulpfile of one line', () => {
  let project: TestProject;
  before(() => (project = createTestProject()));
  after(() => project.remove());

  it('module.exports = require(<the public entry>).createMigrationTasks() gives the same `gulp --tasks` as ours', async () => {
    const gulpfile = path.join(project.dir, 'gulpfile.js');
    writeFileSync(gulpfile, `module.exports = require(${JSON.stringify(path.join(REPO_ROOT, 'tasks'))}).createMigrationTasks();\n`);
    const theirs = await runGulp(['--tasks', '--preload', path.join(REPO_ROOT, 'loader', 'register-ts.cjs')], { cwd: project.dir, gulpfile });
    const ours = await runGulp(['--tasks'], { cwd: project.dir });
    expect(theirs.code, theirs.output).to.equal(0);
    expect(ours.code, ours.output).to.equal(0);
    expect(tree(theirs.output)).to.have.length.greaterThan(100);
    expect(tree(theirs.output)).to.deep.equal(tree(ours.output));
  });

  it('a misspelt option (or command in `names`) fails `gulp --tasks` at once, naming the nearest one (it was ignored)', async () => {
    const gulpfile = path.join(project.dir, 'gulpfile.js');
    writeFileSync(gulpfile, `module.exports = require(${JSON.stringify(path.join(REPO_ROOT, 'tasks'))}).createMigrationTasks({ migrationDir: 'db' });\n`);
    const run = await runGulp(['--tasks', '--preload', path.join(REPO_ROOT, 'loader', 'register-ts.cjs')], { cwd: project.dir, gulpfile });
    expect(run.code, run.output).to.equal(1);
    expect(run.output).to.include('createMigrationTasks: unknown option "migrationDir" (did you mean "migrationsDir"?)');
    writeFileSync(
      gulpfile,
      `module.exports = require(${JSON.stringify(path.join(REPO_ROOT, 'tasks'))}).createMigrationTasks({ names: { migrateLoacl: 'up' } });\n`,
    );
    const names = await runGulp(['--tasks', '--preload', path.join(REPO_ROOT, 'loader', 'register-ts.cjs')], { cwd: project.dir, gulpfile });
    expect(names.code, names.output).to.equal(1);
    expect(names.output).to.include('createMigrationTasks: unknown command in names "migrateLoacl" (did you mean "migrateLocal"?)');
  });

  it('shows migrate:local as its steps, ensureEnv → startDb → waitDb → migrate → teardown, each named apart from its command', async () => {
    const run = await runGulp(['--tasks'], { cwd: project.dir });
    const lines = tree(run.output);
    const start = lines.findIndex((line) => /^├─┬ migrate:local /.test(line));
    const steps = lines
      .slice(start + 1)
      .filter((line) => /^│ {3}[├└]── /.test(line))
      .slice(0, 5)
      .map((line) => line.replace(/^│ {3}[├└]── /, '').trim());
    expect(steps).to.deep.equal(['ensureEnv', 'startDb', 'waitDb', 'migrate', 'teardown']);
    // No command holds a step of its own name (gulp would print `Finished 'migrate'` twice).
    const stepsOf = new Map<string, string[]>();
    let command = '';
    for (const line of lines) {
      const head = /^[├└]─┬ (\S+)/.exec(line);
      if (head) stepsOf.set((command = head[1]!), []);
      else if (/── \S+$/.test(line)) stepsOf.get(command)!.push(line.replace(/^.*── /, ''));
    }
    expect([...stepsOf.keys()].sort()).to.deep.equal(COMMAND_IDS.map((id) => COMMANDS[id].name).sort());
    for (const [name, names] of stepsOf) expect(names, name).not.to.include(name);
  });
});
