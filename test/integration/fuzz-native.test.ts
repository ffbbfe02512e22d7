// The native parsers under libFuzzer (npm run fuzz:native, clang-14 with ASan and UBSan), a short
// bounded run of every target (the corpus under native/build/fuzz carries over between runs):
// a crash, out-of-bounds read, leak or undefined behaviour fails the test with the input's path.
// And the harness itself can fail: a planted out-of-bounds read is caught.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const resourceDir = spawnSync('clang++-14', ['-print-resource-dir'], { encoding: 'utf8' });
// libclang-rt-14-dev holds libFuzzer's runtime.
const hasClang = resourceDir.status === 0 && fs.existsSync(path.join(resourceDir.stdout.trim(), 'lib/linux', `libclang_rt.fuzzer-${os.arch() === 'arm64' ? 'aarch64' : 'x86_64'}.a`));

if (!hasClang) {
  if (process.env.CI) t.fail('fuzz-native must run in CI, but clang-14 / libclang-rt-14-dev are not installed');
  else t.pass('fuzz-native skipped: clang-14 / libclang-rt-14-dev not installed');
} else {
  t.test('every fuzz target runs 3 s without a finding', async (t) => {
    const r = spawnSync(process.execPath, [path.join(root, 'native/fuzz/run.mjs'), '--seconds', '3'], { encoding: 'utf8', timeout: 240_000 });
    t.equal(r.status, 0, `${r.stdout}\n${r.stderr.split('\n').slice(-40).join('\n')}`);
    for (const name of ['parse-frame', 'parse-l4', 'build-frames']) t.match(r.stdout, new RegExp(`prtip fuzz: ${name}: \\d+ runs, no crash`));
  });

  t.test('a planted out-of-bounds read is found (the harness can fail)', async (t) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-fuzz-'));
    t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const file = path.join(tmp, 'bad.cc');
    // Reads one byte past the input whenever it starts with "PR".
    fs.writeFileSync(file, '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {\n' +
      '  volatile uint8_t x = 0; if (n >= 2 && d[0] == \'P\' && d[1] == \'R\') x = d[n]; (void)x; return 0; }\n');
    const bin = path.join(tmp, 'bad');
    const c = spawnSync('clang++-14', ['-g', '-fsanitize=fuzzer,address', file, '-o', bin], { encoding: 'utf8' });
    t.equal(c.status, 0, c.stderr);
    const r = spawnSync(bin, ['-max_total_time=20', `-artifact_prefix=${tmp}/`], { encoding: 'utf8', timeout: 60_000 });
    t.not(r.status, 0, 'libFuzzer stops with a finding');
    t.match(r.stderr, /AddressSanitizer: heap-buffer-overflow/);
  });
}
