import { expect } from 'chai';
import { shellArg } from '../../tasks/util/shell';

describe('shellArg: paths in the commands a hint gives', () => {
  it('leaves a plain path alone and quotes one a shell would split or expand', () => {
    expect(shellArg('db/migrations/')).to.equal('db/migrations/');
    expect(shellArg('/tmp/my project/migrations/')).to.equal("'/tmp/my project/migrations/'");
    expect(shellArg("it's $HOME")).to.equal(`"it's \\$HOME"`);
  });
});
