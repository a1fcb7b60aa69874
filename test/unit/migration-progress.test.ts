import { expect } from 'chai';
import { MigrationProgress } from '../../tasks/engine/migration-progress';
import { createRecordingLogger } from '../support/recording-logger';

function runnerSaid(progress: MigrationProgress, ...messages: string[]): void {
  for (const message of messages) progress.runnerLogger.info(message);
}

describe('MigrationProgress', () => {
  it('prints one line per finished migration with its duration', () => {
    const logger = createRecordingLogger();
    const progress = new MigrationProgress(logger, 'up');
    runnerSaid(progress, '> Migrating files:', '> - 1_a', '> - 2_b', '### MIGRATION 1_a (UP) ###', '### MIGRATION 2_b (UP) ###');
    progress.finish();
    expect(logger.lines.filter((line) => line.startsWith('info:')).map((line) => line.replace(/\d+ ms/, 'N ms'))).to.deep.equal([
      'info:   ↑ 1_a (N ms)',
      'info:   ↑ 2_b (N ms)',
    ]);
    expect(progress.finished).to.deep.equal(['1_a', '2_b']);
  });

  it('prints a run of more than 20 migrations in grouped messages, every line there by the end, and before a failure', () => {
    const names = Array.from({ length: 30 }, (_, index) => `${index + 1}_m`);
    const logger = createRecordingLogger();
    const progress = new MigrationProgress(logger, 'up');
    runnerSaid(progress, '> Migrating files:', ...names.map((name) => `> - ${name}`), ...names.map((name) => `### MIGRATION ${name} (UP) ###`));
    expect(
      logger.lines.filter((line) => line.startsWith('info:')),
      'grouped: nothing printed line by line',
    ).to.have.length.below(2);
    progress.finish();
    const printed = logger.lines.filter((line) => line.startsWith('info:')).flatMap((message) => message.slice('info: '.length).split('\n'));
    expect(printed.map((line) => line.replace(/\d+ ms/, 'N ms'))).to.deep.equal(names.map((name) => `  ↑ ${name} (N ms)`));

    const failing = createRecordingLogger();
    const halfway = new MigrationProgress(failing, 'up');
    runnerSaid(halfway, ...names.map((name) => `> - ${name}`), ...names.slice(0, 5).map((name) => `### MIGRATION ${name} (UP) ###`));
    halfway.failure(Object.assign(new Error('boom'), { severity: 'ERROR' }));
    expect(failing.text()).to.include('↑ 4_m');
  });

  it('blames a database error on the migration whose SQL was running', () => {
    const progress = new MigrationProgress(createRecordingLogger(), 'up');
    runnerSaid(progress, '> - 1_a', '> - 2_b', '### MIGRATION 1_a (UP) ###', '### MIGRATION 2_b (UP) ###');
    const sqlError = Object.assign(new Error('relation "x" already exists'), { severity: 'ERROR', code: '42P07' });
    expect(progress.failure(sqlError)).to.deep.equal({ migration: '2_b', completedBefore: 1 });
  });

  it('blames an error thrown by an up function on the migration after the last marked one', () => {
    const progress = new MigrationProgress(createRecordingLogger(), 'up');
    runnerSaid(progress, '> - 1_a', '> - 2_b', '> - 3_c', '### MIGRATION 1_a (UP) ###');
    expect(progress.failure(new Error('boom'))).to.deep.equal({ migration: '2_b', completedBefore: 1 });
    const first = new MigrationProgress(createRecordingLogger(), 'up');
    runnerSaid(first, '> - 1_a');
    expect(first.failure(new Error('boom'))).to.deep.equal({ migration: '1_a', completedBefore: 0 });
  });

  it('keeps the runner error output for the error message instead of printing it', () => {
    const logger = createRecordingLogger();
    const progress = new MigrationProgress(logger, 'down');
    progress.runnerLogger.error('Error executing:\nDROP TABLE x;\n^^^^');
    expect(progress.failureDetail).to.equal('Error executing:\nDROP TABLE x;\n^^^^');
    expect(logger.lines).to.deep.equal([]);
  });
});
