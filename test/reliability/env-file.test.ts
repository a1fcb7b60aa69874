// What dotenv would silently get wrong in a .env (checkEnvFile), and URLs printed with a badly encoded password (redactUrl).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dotenv from 'dotenv';
import { checkEnvFile } from '../../tasks/settings/env-file';
import { TaskError } from '../../tasks/util/errors';
import { redactUrl } from '../../tasks/util/redact';

describe('checkEnvFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'env-file-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const check = (text: string) => {
    writeFileSync(path.join(dir, '.env'), text);
    return checkEnvFile(path.join(dir, '.env'), dir);
  };

  it('accepts everything dotenv reads: comments, blanks, export, quotes over several lines, NAME: value', () => {
    const text = [
      '# settings',
      '',
      'DB_HOST=127.0.0.1',
      'export DB_PORT=5432',
      "DB_NAME='hub'",
      'DB_PASSWORD="p@ss #1"',
      'CERT="line one',
      'line two"',
      'DB_USER: app',
      'KEEP_DB=1 # keep it',
      'APP_COLOR=#fff',
      '   ',
    ].join('\n');
    expect(check(text)).to.deep.equal([]);
    expect(Object.keys(dotenv.parse(text))).to.deep.equal(['DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_PASSWORD', 'CERT', 'DB_USER', 'KEEP_DB', 'APP_COLOR']);
  });

  it('names the lines dotenv skips, counting lines after a multi-line value, without showing them', () => {
    const problems = check(['CERT="a', 'b"', 'DB_PASSWORD hunter2', 'DB_HOST=x', '=oops', 'just words', ''].join('\r\n'));
    expect(problems).to.deep.equal([
      '.env: lines 3, 5, 6 are not NAME=value, a comment or blank, and would be ignored (the line is not shown: it may hold a secret)',
    ]);
    expect(dotenv.parse(['DB_PASSWORD hunter2', '=oops', 'just words'].join('\n'))).to.deep.equal({});
  });

  it('refuses a quote left open: the quote kept in a value of ours, or the settings up to a closing one read as part of its value', () => {
    const open = ['DB_PASSWORD="hunter2', 'DB_NAME=hub', 'DATABASE_URL="postgresql://app@h/db"', ''].join('\n');
    // dotenv keeps the quote: the password would be `"hunter2`.
    expect(dotenv.parse(open)).to.deep.include({ DB_PASSWORD: '"hunter2', DB_NAME: 'hub' });
    expect(check(open)).to.deep.equal([
      '.env line 1: the value of DB_PASSWORD opens a quote (") that is never closed, so DB_PASSWORD would be read with the quote in it: close the quote',
    ]);
    // A line that ends with the quote further down closes it: the settings in between become part of the value.
    const swallowing = ["DB_PASSWORD='hunter2", 'DB_NAME=hub', "DB_USER=app'", 'KEEP_DB=1', ''].join('\n');
    expect(dotenv.parse(swallowing)).to.deep.equal({ DB_PASSWORD: 'hunter2\nDB_NAME=hub\nDB_USER=app', KEEP_DB: '1' });
    expect(check(swallowing)).to.deep.equal([
      ".env line 1: the value of DB_PASSWORD opens a quote (') that closes only on line 3, so lines 2, 3, which look like settings, would be read as part of the value: close the quote on line 1",
    ]);
    expect([...check(open), ...check(swallowing)].join('\n')).not.to.include('hunter2');
    // A value over several lines is fine when its lines are not settings (a certificate, a key).
    expect(check(['TLS_KEY="-----BEGIN KEY-----', 'abc=', '-----END KEY-----"', 'DB_USER=app', ''].join('\n'))).to.deep.equal([]);
  });

  it('refuses an unquoted # inside a value of ours (dotenv cuts it there), naming the variable but not the value', () => {
    const problems = check(['DB_PASSWORD=hunter#2', 'DATABASE_URL=postgresql://app:pa#ss@h/db', 'DB_NAME=#hub', 'OTHER=a#b', ''].join('\n'));
    expect(problems).to.deep.equal(
      [
        [1, 'DB_PASSWORD'],
        [2, 'DATABASE_URL'],
        [3, 'DB_NAME'],
      ].map(
        ([line, name]) =>
          `.env line ${line}: the value of ${name} contains "#", which starts a comment when the value is not quoted, so ${name} would be read cut short there: put the value in quotes (${name}="…")`,
      ),
    );
    expect(problems.join('\n')).not.to.match(/hunter|pa#ss|#hub/);
    expect(dotenv.parse('DB_PASSWORD=hunter#2').DB_PASSWORD).to.equal('hunter');
  });

  it('is silent about a missing file, and a TaskError for one that cannot be read', () => {
    expect(checkEnvFile(path.join(dir, '.env'), dir)).to.deep.equal([]);
    mkdirSync(path.join(dir, '.env'));
    expect(() => checkEnvFile(path.join(dir, '.env'), dir))
      .to.throw(TaskError)
      .with.property('message')
      .that.matches(/^cannot read \.env: EISDIR/);
  });
});

describe('redactUrl with a password that was not percent-encoded', () => {
  it('shows no piece of a password that spilled into the path, query or fragment', () => {
    expect(redactUrl('postgresql://app:pa@ss/word@db:5432/hub')).to.equal('postgresql://app:****@****');
    expect(redactUrl('postgresql://app:12/secret@db/hub')).to.equal('postgresql://****');
    expect(redactUrl('postgresql://app:p@h:5432/db?x=se#cret@x')).to.equal('postgresql://app:****@****');
  });

  it('masks an unparseable URL up to its last @', () => {
    expect(redactUrl('postgresql://app:S3cr3t@:/?#%pw@127.0.0.1:5432/db')).to.equal('postgresql://app:****@127.0.0.1:5432/db');
  });
});
