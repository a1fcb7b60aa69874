import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { hashMigrationContent } from '../../tasks/db/checksums';

const sha256 = (text: string) => createHash('sha256').update(Buffer.from(text)).digest('hex');

describe('migration checksums', () => {
  const lf = '-- Up Migration\nCREATE TABLE t (id int);\n-- Down Migration\nDROP TABLE t;\n';

  it('is the sha256 of the file bytes', () => {
    expect(hashMigrationContent(Buffer.from(lf))).to.equal(sha256(lf));
  });

  it('reads CRLF line ends as LF, so a Windows checkout is not an edit', () => {
    expect(hashMigrationContent(Buffer.from(lf.replaceAll('\n', '\r\n')))).to.equal(sha256(lf));
  });

  it('changes with any other change, including a lone CR or trailing whitespace', () => {
    expect(hashMigrationContent(Buffer.from(lf.replace('\n', '\r')))).to.not.equal(sha256(lf));
    expect(hashMigrationContent(Buffer.from(`${lf} `))).to.not.equal(sha256(lf));
  });

  it('keeps non-ASCII bytes intact while normalising line ends', () => {
    const text = "-- Up Migration\r\nCOMMENT ON TABLE t IS 'café ☕';\r\n";
    expect(hashMigrationContent(Buffer.from(text))).to.equal(sha256(text.replaceAll('\r\n', '\n')));
  });
});
