#!/usr/bin/env node
// Runs before node-gyp (package.json build:native): checks what the native build needs and says
// in one line which Debian package is missing, instead of a raw compiler error.
import { spawnSync } from 'node:child_process';

const fix = '(sudo apt-get install PKG, or npm run setup)';

function fail(what, pkg) {
  process.stderr.write(`prtip build: ${what}: install ${pkg} ${fix.replace('PKG', pkg)}\n`);
  process.exit(1);
}

function has(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

const cxx = process.env.CXX || 'c++';
if (!has(cxx)) fail(`no C++ compiler (${cxx})`, 'build-essential');
if (!has('make')) fail('no make', 'build-essential');
if (!has('python3')) fail('no python3 (node-gyp runs it)', 'python3');
// The compiler's own search path decides, as it will for the real build.
const probe = spawnSync(cxx, ['-E', '-x', 'c++', '-', '-o', '/dev/null'], { input: '#include <pcap/pcap.h>\n', encoding: 'utf8' });
if (probe.status !== 0) fail('libpcap headers not found (pcap/pcap.h)', 'libpcap-dev');
