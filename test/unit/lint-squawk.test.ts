import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lintMigrationFiles } from '../../tasks/lint';
import { findSquawk, offsetOf, parseSquawkJson } from '../../tasks/lint/squawk';
import { FIXTURES } from '../support/project';

const REPORT = path.join(FIXTURES, 'lint-squawk', 'report.json');
const MIGRATION = [
  '-- Adds a required column.',
  '-- Up Migration',
  'ALTER TABLE users ADD COLUMN age integer NOT NULL;',
  '',
  '-- Down Migration',
  'ALTER TABLE users DROP COLUMN age;',
  '',
].join('\n');

describe('Squawk findings merged into the lint results (optional)', () => {
  let dir: string;
  let log: string;
  let originalPath: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lint-squawk-'));
    mkdirSync(path.join(dir, 'migrations'));
    mkdirSync(path.join(dir, 'bin'));
    log = path.join(dir, 'squawk-args.log');
    // A stand-in for the squawk binary: logs its arguments and prints the recorded report for the file it was given.
    const script = path.join(dir, 'bin', 'squawk');
    writeFileSync(script, `#!/bin/sh\necho "$@" >> '${log}'\nfor last; do :; done\nsed "s#__FILE__#$last#g" '${REPORT}'\nexit 1\n`);
    chmodSync(script, 0o755);
    originalPath = process.env.PATH;
  });
  afterEach(() => {
    process.env.PATH = originalPath;
    rmSync(dir, { recursive: true, force: true });
  });

  async function lint(projectDir: string, config?: object, content = MIGRATION) {
    const file = path.join(dir, 'migrations', '1000000000001_required_age.sql');
    writeFileSync(file, content);
    if (config) writeFileSync(path.join(projectDir, '.pgmt-lint.json'), JSON.stringify(config));
    return lintMigrationFiles([file], { migrationsDir: path.join(dir, 'migrations'), projectDir, typeCheck: false, newFiles: [] });
  }

  it('adds the findings none of our rules makes, located in the migration, with source "squawk"', async () => {
    process.env.PATH = `${path.join(dir, 'bin')}${path.delimiter}${originalPath}`;
    const [result] = await lint(dir);
    expect(result!.diagnostics.map(({ ruleId, severity, line, column, source }) => `${line}:${column} ${severity} ${ruleId} (${source})`)).to.deep.equal([
      '3:1 error add-column-not-null-without-default (pg-migrate-tasks)', // Squawk's adding-required-field says the same: dropped
      '3:19 warning squawk/prefer-robust-stmts (squawk)',
      '3:34 warning squawk/prefer-bigint-over-int (squawk)',
    ]);
    const bigint = result!.diagnostics.find((diagnostic) => diagnostic.ruleId === 'squawk/prefer-bigint-over-int')!;
    expect(bigint.message).to.equal('Using 32-bit integer fields can result in hitting the max `int` limit.');
    expect(bigint.hint).to.equal('Use 64-bit integer values instead to prevent hitting this limit.');
    const robust = result!.diagnostics.find((diagnostic) => diagnostic.ruleId === 'squawk/prefer-robust-stmts')!;
    expect(robust.hint).to.equal('see https://squawkhq.com/docs/prefer-robust-stmts');
    expect(readFileSync(log, 'utf8')).to.match(/^--reporter json --assume-in-transaction \S+\.sql\n$/);
  });

  it('takes squawk/<rule> ids in .pgmt-lint.json and lint-ignore comments; "squawk": false turns it off', async () => {
    process.env.PATH = `${path.join(dir, 'bin')}${path.delimiter}${originalPath}`;
    const projectDir = path.join(dir, 'with-config');
    mkdirSync(projectDir);
    const [configured, extra] = await lint(projectDir, { rules: { 'squawk/prefer-bigint-over-int': 'off', 'squawk/prefer-robust-stmts': 'info' } });
    expect(configured!.diagnostics.map(({ ruleId, severity }) => `${severity} ${ruleId}`)).to.deep.equal([
      'error add-column-not-null-without-default',
      'info squawk/prefer-robust-stmts',
    ]);
    expect(extra).to.equal(undefined);

    // Above the up section (so that the recorded report's lines still fit): it applies to the next statement.
    const [ignored] = await lint(dir, undefined, `-- lint-ignore squawk/prefer-robust-stmts -- IF NOT EXISTS is not wanted here\n${MIGRATION}`);
    expect(ignored!.diagnostics.map(({ ruleId, line, column }) => `${line}:${column} ${ruleId}`)).to.deep.equal([
      '4:1 add-column-not-null-without-default',
      '4:34 squawk/prefer-bigint-over-int',
    ]);

    const off = path.join(dir, 'off');
    mkdirSync(off);
    const [quiet] = await lint(off, { squawk: false });
    expect(quiet!.diagnostics.map((diagnostic) => diagnostic.ruleId)).to.deep.equal(['add-column-not-null-without-default']);
  });

  it('is skipped quietly when Squawk is not installed', async () => {
    process.env.PATH = path.join(dir, 'empty');
    expect(findSquawk(path.join(dir, 'elsewhere'))).to.equal(undefined);
    const [result] = await lint(path.join(dir, 'elsewhere'));
    expect(result!.diagnostics.map((diagnostic) => diagnostic.ruleId)).to.deep.equal(['add-column-not-null-without-default']);
  });

  it('reads its JSON report, and nothing from output that is not one', () => {
    const violations = parseSquawkJson(readFileSync(REPORT, 'utf8'));
    expect(violations.map((violation) => `${violation.line}:${violation.column} ${violation.rule_name}`)).to.deep.equal([
      '1:18 adding-required-field',
      '1:18 prefer-robust-stmts',
      '1:33 prefer-bigint-over-int',
    ]);
    expect(parseSquawkJson('error: unexpected argument')).to.deep.equal([]);
    expect(parseSquawkJson('{"not": "an array"}')).to.deep.equal([]);
    expect(offsetOf('ab\ncd\nef', 2, 1)).to.equal(7);
  });
});
