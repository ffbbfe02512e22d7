// -sS without the native addon (libpcap missing at build): the notice says the engine is not
// built and how to build it, not that root is needed (root cannot fix it).
import t from 'tap';
import { canSendRaw, chooseScanType } from '../../packages/oclif-cli/lib/stage-options.js';
import { emptyOptions } from '../../packages/oclif-cli/lib/flags.js';

t.test('a missing addon is named as such', async (t) => {
  const missing = () => {
    // What native/index.ts loadNative() throws when the .node file is absent.
    throw Object.assign(new Error('prtip\'s native engine is not built (/x/native/build/Release/prtip_native.node is missing): install libpcap-dev and run "npm run build"'), { code: 'PRTIP_NATIVE_MISSING' });
  };
  const why = canSendRaw(missing);
  t.equal(why, '-sS needs prtip\'s native engine, which is not built (/x/native/build/Release/prtip_native.node is missing): install libpcap-dev and run "npm run build"');
  t.equal(canSendRaw(() => ({ hasRawAccess: () => false })), false, 'built but unprivileged');
  t.equal(canSendRaw(() => ({ hasRawAccess: () => true })), true);
  const warnings: string[] = [];
  t.equal(chooseScanType({ ...emptyOptions(), scanTypes: ['syn'], targets: ['198.18.0.2'] }, (m) => warnings.push(m), () => canSendRaw(missing)), 'connect');
  t.same(warnings, [`${why as string}; running a connect scan (-sT) instead`]);
  t.notMatch(warnings[0], /root|CAP_NET_RAW/);
});
