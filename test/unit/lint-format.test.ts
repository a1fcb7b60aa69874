import { expect } from 'chai';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import PluginError from 'plugin-error';
import File from 'vinyl';
import { formatFile, formatJson, formatText, shouldUseColor } from '../../tasks/lint/format';
import { lintReport, type LintedFile } from '../../tasks/gulp/lint-plugin';
import type { Diagnostic, FileLintResult } from '../../tasks/lint/types';
import { createRecordingLogger } from '../support/recording-logger';

const PROJECT = '/home/me/app';
const file = (name: string) => `${PROJECT}/migrations/${name}`;
const finding = (name: string, fields: Partial<Diagnostic>): Diagnostic => ({
  ruleId: 'some-rule',
  severity: 'error',
  message: 'something is wrong',
  hint: 'do it right',
  file: file(name),
  source: 'pg-migrate-tasks',
  ...fields,
});

const RESULTS: FileLintResult[] = [
  { file: file('1000000000001_clean.ts'), diagnostics: [] },
  {
    file: file('1000000000002_index.ts'),
    diagnostics: [
      finding('1000000000002_index.ts', {
        ruleId: 'varchar-length',
        severity: 'info',
        message: 'varchar(100) where text fits',
        hint: 'use text',
        line: 12,
        column: 5,
      }),
      finding('1000000000002_index.ts', {
        ruleId: 'create-index-not-concurrently',
        severity: 'warning',
        message: 'index on existing table "users" without CONCURRENTLY',
        hint: 'pass { concurrently: true } and call pgm.noTransaction()',
        line: 3,
        column: 3,
      }),
    ],
  },
  {
    file: file('1000000000003_broken.ts'),
    diagnostics: [
      finding('1000000000003_broken.ts', { ruleId: 'syntax-error', message: "')' expected", hint: 'fix the syntax error', line: 4, column: 40 }),
      finding('1000000000003_broken.ts', {
        ruleId: 'no-down',
        severity: 'error',
        message: 'no down export',
        hint: 'write a down, or export const down = false',
      }),
    ],
  },
];

describe('lint report format', () => {
  it('groups findings by file (relative path), file-level ones first, then by position, with a hint line each and a summary', () => {
    expect(formatText(RESULTS, { projectDir: PROJECT }).split('\n')).to.deep.equal([
      'migrations/1000000000002_index.ts',
      '  3:3   warning  index on existing table "users" without CONCURRENTLY  create-index-not-concurrently',
      '    hint: pass { concurrently: true } and call pgm.noTransaction()',
      '  12:5  info     varchar(100) where text fits  varchar-length',
      '    hint: use text',
      '',
      'migrations/1000000000003_broken.ts',
      '  -     error  no down export  no-down',
      '    hint: write a down, or export const down = false',
      "  4:40  error  ')' expected  syntax-error",
      '    hint: fix the syntax error',
      '',
      '2 errors, 1 warning, 1 info in 2 files',
    ]);
  });

  it('writes out the control characters of a file name, a message or a hint instead of printing them raw', () => {
    const file = '/app/migrations/1700000000000_a\u001b[2Jb.sql';
    const lines = formatFile(
      {
        file,
        diagnostics: [
          {
            ruleId: 'name-pattern',
            severity: 'error',
            message: 'name 1700000000000_a\u001b[2Jb has a control character',
            hint: 'rename it\u0007',
            file,
            source: 'pg-migrate-tasks',
          },
        ],
      },
      { projectDir: '/app' },
    );
    expect(lines).to.deep.equal([
      'migrations/1700000000000_a\\x1b[2Jb.sql',
      '  -  error  name 1700000000000_a\\x1b[2Jb has a control character  name-pattern',
      '    hint: rename it\\x07',
    ]);
  });

  it('says "No problems in N migrations" when there is nothing to report', () => {
    expect(formatText([RESULTS[0]!, { file: file('1000000000004_x.sql'), diagnostics: [] }], { projectDir: PROJECT })).to.equal('No problems in 2 migrations');
    expect(formatText([RESULTS[0]!], { projectDir: PROJECT })).to.equal('No problems in 1 migration');
  });

  it('colours severities, the path, rule ids and the summary only when asked', () => {
    const plain = formatText(RESULTS, { projectDir: PROJECT, color: false });
    const coloured = formatText(RESULTS, { projectDir: PROJECT, color: true });
    expect(plain).not.to.include('\u001B[');
    expect(coloured).to.include('\u001B[31merror\u001B[39m');
    expect(coloured).to.include('\u001B[33mwarning\u001B[39m');
    expect(coloured).to.include('\u001B[4mmigrations/1000000000002_index.ts\u001B[24m');
    expect(coloured.split('\n').at(-1)).to.equal('\u001B[31m\u001B[1m2 errors, 1 warning, 1 info in 2 files\u001B[22m\u001B[39m');
    // eslint-disable-next-line no-control-regex -- ANSI colour codes, which this test removes
    expect(coloured.replace(/\u001B\[\d+m/g, '')).to.equal(plain);
  });

  it('decides colours from NO_COLOR, FORCE_COLOR, gulp --color/--no-color and the terminal', () => {
    expect(shouldUseColor({ env: {}, isTTY: true })).to.equal(true);
    expect(shouldUseColor({ env: {}, isTTY: false })).to.equal(false);
    expect(shouldUseColor({ env: { NO_COLOR: '1' }, isTTY: true })).to.equal(false);
    expect(shouldUseColor({ env: { NO_COLOR: '' }, isTTY: true }), 'an empty NO_COLOR does not count').to.equal(true);
    expect(shouldUseColor({ env: { FORCE_COLOR: '1' }, isTTY: false })).to.equal(true);
    expect(shouldUseColor({ env: { FORCE_COLOR: '0' }, isTTY: true })).to.equal(false);
    expect(shouldUseColor({ env: {}, argv: ['lint', '--no-color'], isTTY: true })).to.equal(false);
    expect(shouldUseColor({ env: { NO_COLOR: '1' }, argv: ['lint', '--color'], isTTY: false })).to.equal(true);
  });

  it('writes a stable JSON document: every file, positions or null, a summary', () => {
    expect(JSON.parse(formatJson(RESULTS.slice(0, 1).concat(RESULTS[2]!), { projectDir: PROJECT }))).to.deep.equal({
      version: 1,
      files: [
        { file: 'migrations/1000000000001_clean.ts', diagnostics: [] },
        {
          file: 'migrations/1000000000003_broken.ts',
          diagnostics: [
            {
              ruleId: 'no-down',
              severity: 'error',
              message: 'no down export',
              hint: 'write a down, or export const down = false',
              line: null,
              column: null,
              source: 'pg-migrate-tasks',
            },
            {
              ruleId: 'syntax-error',
              severity: 'error',
              message: "')' expected",
              hint: 'fix the syntax error',
              line: 4,
              column: 40,
              source: 'pg-migrate-tasks',
            },
          ],
        },
      ],
      summary: { files: 2, filesWithProblems: 1, errors: 2, warnings: 0, infos: 0 },
    });
    expect(formatJson([], { projectDir: PROJECT })).to.match(/^\{\n {2}"version": 1,\n[\s\S]*\}\n$/);
  });
});

describe('lintReport (gulp plugin)', () => {
  /** Vinyl files as lintMigrations leaves them, through lintReport; the files that came out and the error, if any. */
  async function report(options: Parameters<typeof lintReport>[0], results = RESULTS) {
    const files = results.map(({ file: path, diagnostics }) =>
      Object.assign(new File({ cwd: PROJECT, base: `${PROJECT}/migrations`, path, contents: Buffer.from('') }), { pgmtLint: { diagnostics } }),
    );
    const passed: LintedFile[] = [];
    const sink = new Writable({ objectMode: true, write: (chunk: LintedFile, _encoding, done) => void (passed.push(chunk), done()) });
    let failure: unknown;
    await pipeline(Readable.from(files), lintReport(options), sink).catch((error: unknown) => (failure = error));
    return { passed, failure };
  }

  it('prints the report through the logger and fails the stream with a PluginError when an error exists', async () => {
    const logger = createRecordingLogger();
    const { passed, failure } = await report({ logger, color: false });
    expect(passed.map((vinyl) => vinyl.relative)).to.deep.equal(['1000000000001_clean.ts', '1000000000002_index.ts', '1000000000003_broken.ts']);
    // gulp drops empty log lines: the blank lines between files are left out.
    expect(logger.lines).to.deep.equal(
      formatText(RESULTS, { projectDir: PROJECT })
        .split('\n')
        .filter(Boolean)
        .map((line) => `info: ${line}`),
    );
    expect(logger.lines).not.to.include('info: ');
    expect(failure).to.be.instanceOf(PluginError);
    expect((failure as PluginError).plugin).to.equal('pg-migrate-tasks:lint');
    expect((failure as PluginError).message).to.equal('lint found problems at or above "error": 2 errors, 1 warning, 1 info in 2 files');
  });

  it('does not fail on warnings with failOn "error", fails with failOn "warning", never with "never"', async () => {
    const warningsOnly = RESULTS.slice(0, 2);
    expect((await report({ logger: createRecordingLogger() }, warningsOnly)).failure).to.equal(undefined);
    expect(((await report({ logger: createRecordingLogger(), failOn: 'warning' }, warningsOnly)).failure as Error).message).to.equal(
      'lint found problems at or above "warning": 1 warning, 1 info in 1 file',
    );
    const never = await report({ logger: createRecordingLogger(), failOn: 'never' });
    expect(never.failure).to.equal(undefined);
    expect(never.passed).to.have.length(3);
  });

  it('uses a custom formatter', async () => {
    const logger = createRecordingLogger();
    await report({ logger, failOn: 'never', formatter: (results) => results.map((result) => `${result.file}: ${result.diagnostics.length}`).join('\n') });
    expect(logger.lines).to.deep.equal([
      `info: ${file('1000000000001_clean.ts')}: 0`,
      `info: ${file('1000000000002_index.ts')}: 2`,
      `info: ${file('1000000000003_broken.ts')}: 2`,
    ]);
  });

  it('rejects an unknown failOn', () => {
    expect(() => lintReport({ failOn: 'errors' as 'error' })).to.throw('Expected `failOn` to be one of error, warning, info, never, got "errors"');
  });
});
