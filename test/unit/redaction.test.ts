import { expect } from 'chai';
import { createRedactingLogger, redactSecrets } from '../../tasks/util/logger';
import { redactUrl } from '../../tasks/util/redact';
import { createRecordingLogger } from '../support/recording-logger';

describe('redaction', () => {
  it('masks the password of a URL and keeps the rest', () => {
    expect(redactUrl('postgresql://app:p%40ss@db:5432/hub?sslmode=require')).to.equal('postgresql://app:****@db:5432/hub?sslmode=require');
    expect(redactUrl('postgresql://app@db:5432/hub')).to.equal('postgresql://app@db:5432/hub');
  });

  it('masks a secret in raw and percent-encoded form', () => {
    expect(redactSecrets('pw=p@ss url=postgresql://u:p%40ss@h/d', ['p@ss'])).to.equal('pw=**** url=postgresql://u:****@h/d');
  });

  it('masks every known secret in everything the logger writes, at every level', () => {
    const recording = createRecordingLogger();
    const secrets = new Set<string>();
    const logger = createRedactingLogger(recording, secrets);
    secrets.add('s3cret');
    logger.info('connecting with s3cret');
    logger.warn('s3cret');
    logger.error('error: s3cret');
    logger.debug?.('debug s3cret');
    expect(recording.text()).to.equal('info: connecting with ****\nwarn: ****\nerror: error: ****\ndebug: debug ****');
  });
});
