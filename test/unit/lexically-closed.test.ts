import { expect } from 'chai';
import { isLexicallyClosed } from '../../tasks/sources/render-sql';

describe('isLexicallyClosed: whether a statement can be sent joined with others', () => {
  const closed = [
    "SELECT 'it''s'",
    'SELECT $$ a $$',
    'SELECT $f$ a $$ b $f$',
    'SELECT $1, a$b',
    'SELECT /* a /* b */ c */ 1',
    "SELECT E'a\\'b'",
    'SELECT 1 -- a comment with \' and "',
    'SELECT "a""b"',
    "SELECT ne'x'",
  ];
  const open = [
    "SELECT 'abc",
    'SELECT $$ a',
    'SELECT /* a /* b */',
    "SELECT E'a\\'b",
    'SELECT "ab',
    'CREATE FUNCTION f() RETURNS void AS $$ BEGIN',
    "SELECT 'a' -- x\n, 'b",
  ];

  for (const sql of closed) it(`closed: ${JSON.stringify(sql)}`, () => expect(isLexicallyClosed(sql)).to.equal(true));
  for (const sql of open) it(`left open: ${JSON.stringify(sql)}`, () => expect(isLexicallyClosed(sql)).to.equal(false));
});
