import { expect } from 'chai';
import { TaskError } from '../../tasks/util/errors';

describe('TaskError', () => {
  it('writes out the control characters of its message and hint (a NUL, an escape sequence), keeping lines and tabs', () => {
    const error = new TaskError('cannot run 1700_x.sql:\n\tSELECT \u0000 \u001b[2J', { hint: 'remove the \u0007 from it' });
    expect(error.message).to.equal('cannot run 1700_x.sql:\n\tSELECT \\x00 \\x1b[2J\n  hint: remove the \\x07 from it');
    expect(error.hint).to.equal('remove the \\x07 from it');
    expect([...String(error)].filter((char) => char.charCodeAt(0) < 0x20 && char !== '\n' && char !== '\t')).to.deep.equal([]);
  });
});
