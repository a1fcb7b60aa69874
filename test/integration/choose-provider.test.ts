import { expect } from 'chai';
import { resolveSettings } from '../../tasks/settings/settings';
import { chooseProvider } from '../../tasks/providers/choose-provider';
import { detectContainerRuntime } from '../../tasks/providers/container-runtime';
import { startTestServer, type TestServer } from '../support/database';
import { createTestProject, type TestProject } from '../support/project';

describe('choosing a provider', () => {
  let project: TestProject;
  before(() => (project = createTestProject()));
  after(() => project.remove());
  const config = (env: Record<string, string>, argv: string[] = []) => resolveSettings({ env, argv, cwd: project.dir, startsDatabase: true });

  it('takes DB_PROVIDER, and --provider over it, saying so', async () => {
    expect(await chooseProvider(config({ DB_PROVIDER: 'docker' }))).to.deep.include({ reason: 'chosen by DB_PROVIDER' });
    const choice = await chooseProvider(config({ DB_PROVIDER: 'docker' }, ['--provider', 'embedded']));
    expect([choice.provider.name, choice.reason]).to.deep.equal(['embedded', 'chosen by --provider']);
  });

  it('auto: local binaries when no container runtime answers, with the reason', async function () {
    const runtime = await detectContainerRuntime();
    if (runtime.available) this.skip();
    const choice = await chooseProvider(config({}));
    expect(choice.provider.name).to.equal('embedded');
    expect(choice.reason).to.match(/^no container runtime answers .*; using local PostgreSQL binaries$/);
  });

  describe('auto with KEEP_DB=1 and a configured URL', () => {
    let server: TestServer;
    before(async () => (server = await startTestServer()));
    after(() => server?.stop());

    it('uses the database that answers there', async () => {
      const choice = await chooseProvider(config({ KEEP_DB: '1', DATABASE_URL: server.database.url }));
      expect(choice.provider.name).to.equal('external');
      expect(choice.reason).to.match(/^KEEP_DB=1 and a database answers at postgresql:\/\/contentuser:\*\*\*\*@127\.0\.0\.1:\d+\/contenthub$/);
    });

    it('starts its own when nothing answers there', async function () {
      const runtime = await detectContainerRuntime();
      if (runtime.available) this.skip();
      const choice = await chooseProvider(config({ KEEP_DB: '1', DATABASE_URL: 'postgresql://contentuser:pw@127.0.0.1:1/contenthub' }));
      expect(choice.provider.name).to.equal('embedded');
    });
  });
});
