import { expect } from 'chai';
import os from 'node:os';
import { assertRoomFor, lowSpaceNote, MIN_FREE_BYTES, roomIn } from '../../tasks/providers/private-temp-dir';
import { TaskError } from '../../tasks/util/errors';

describe('room for the server in TMPDIR', () => {
  it('refuses less room than a prepared cluster takes, saying how much there is and what to set', () => {
    const error = (() => {
      try {
        assertRoomFor('/mnt/small', 3 * 1024 * 1024);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).to.be.instanceOf(TaskError);
    expect((error as TaskError).message.split('\n')[0]).to.equal(
      "not enough free space in /mnt/small (TMPDIR) for the database: 3.0 MB free, and a server's files need about 48 MB",
    );
    expect((error as TaskError).hint).to.equal(
      'free space there, or set TMPDIR to a folder on a disk with room (e.g. TMPDIR=/var/tmp), then run the command again',
    );
  });

  it('lets enough room, or room it cannot measure, through', () => {
    expect(() => assertRoomFor('/mnt/big', MIN_FREE_BYTES)).not.to.throw();
    expect(() => assertRoomFor('/mnt/unknown', undefined)).not.to.throw();
  });

  it('measures the temp folder of this machine, and says nothing of it when it has room', () => {
    const room = roomIn(os.tmpdir());
    expect(room).to.be.a('number').above(0);
    if (room! > 2 * MIN_FREE_BYTES) expect(lowSpaceNote(os.tmpdir())).to.equal('');
    expect(roomIn('/no/such/folder')).to.equal(undefined);
    // /proc reports no blocks: not a full disk (its own refusal, "cannot create the database's temp dir", stands).
    expect(roomIn('/proc')).to.equal(undefined);
  });
});
