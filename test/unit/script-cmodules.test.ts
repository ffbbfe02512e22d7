// The C modules prtip writes for NSE: zlib (lzlib's API) checked against the gzip and python3
// zlib implementations, and through nselib's http.lua decoding a real gzip body over loopback;
// lfs (LuaFileSystem) read-only, only inside the data directories, symlinks included.
import t from 'tap';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NseEngine, type NseEngineOptions } from '../../stages/script/engine.js';

const NSELIB = '/usr/share/nmap/nselib';

async function engine(over: Partial<NseEngineOptions> = {}): Promise<NseEngine> {
  return NseEngine.create({
    nselibDirs: [NSELIB], readDirs: ['/usr/share/nmap'], fetchDirs: ['/usr/share/nmap'],
    memoryMax: 64 * 2 ** 20, scriptTimeoutMs: 10_000, cpuSliceMs: 2000, verbosity: 0, debugging: 0, timing: 3,
    args: {}, policy: () => undefined, log: () => {}, ...over,
  });
}

const script = (body: string) => `description = "test"\ncategories = {"safe"}\nportrule = function() return true end\naction = function(host, port)\n${body}\nend\n`;

async function runOne(e: NseEngine, id: string, body: string, port = 1) {
  const def = e.define(id, `/test/${id}.nse`, script(body));
  if ('error' in def) throw new Error(def.error);
  e.setHost({ ip: '127.0.0.1', ports: [{ number: port, protocol: 'tcp', state: 'open', service: 'http', version: {} }] });
  return e.run(id, 'portrule', { ip: '127.0.0.1', port, proto: 'tcp' });
}

const luaBytes = (b: Buffer) => [...b].map((c) => `\\${c}`).join('');

t.test('zlib: inflates what gzip(1) wrote; python3 reads what zlib.compress wrote; corrupt input fails in read', async (t) => {
  const plain = 'prtip zlib fixture: 0123456789 abcdefghij 0123456789 abcdefghij\n';
  const gz = execFileSync('gzip', ['-9', '-c'], { input: plain });
  const e = await engine();
  t.teardown(() => e.close());
  const r = await runOne(e, 'z', `
    local zlib = require "zlib"
    local s = zlib.inflate("${luaBytes(gz)}")
    local a = s:read("*a")
    s:close()
    local c = zlib.compress("${plain.replace(/\n/g, '\\n')}")
    local hex = c:gsub(".", function(x) return string.format("%02x", x:byte()) end)
    local bad = zlib.inflate("\\31\\139\\8\\0garbage that is not deflate")
    local ok, err = pcall(bad.read, bad, "*a")
    return a .. "|" .. hex .. "|" .. tostring(ok) .. "|" .. tostring(err) .. "|" .. zlib.decompress(c)`);
  t.equal(r.kind, 'ok', JSON.stringify(r));
  const [text, hex, ok, err, back] = r.kind === 'ok' ? r.output!.split('|') : [];
  t.equal(text, plain, 'the gzip(1) stream inflates to its input');
  const viaPython = execFileSync('python3', ['-c', 'import sys,zlib; sys.stdout.buffer.write(zlib.decompress(bytes.fromhex(sys.argv[1])))', hex!]).toString();
  t.equal(viaPython, plain, 'python3 zlib decompresses zlib.compress output');
  t.equal(ok, 'false', 'a corrupt stream errors in read (http.lua pcalls it)');
  t.match(err, /header|invalid|incorrect/i);
  t.equal(back, plain);
});

t.test('zlib through http.lua: a gzip Content-Encoding body arrives decoded', async (t) => {
  const body = '<html><title>gzip body</title>' + 'x'.repeat(2000) + '</html>';
  const gz = execFileSync('gzip', ['-c'], { input: body });
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(String(req.headers['accept-encoding'] ?? ''));
    res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Encoding': 'gzip', 'Content-Length': gz.length });
    res.end(gz);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  const port = (server.address() as import('node:net').AddressInfo).port;
  const e = await engine();
  t.teardown(() => e.close());
  const r = await runOne(e, 'hz', `
    local http = require "http"
    local res = http.get(host, port, "/")
    return tostring(res.status) .. "|" .. tostring(#(res.body or "")) .. "|" .. (res.body or ""):sub(1, 30) .. "|" .. table.concat(res.decoded or {}, ",")`, port);
  t.equal(r.kind, 'ok', JSON.stringify(r));
  t.equal(r.kind === 'ok' ? r.output : '', `200|${body.length}|${body.slice(0, 30)}|gzip`);
  t.equal(seen.length, 1, 'one request reached the server');
});

t.test('lfs: read-only, inside the data directories only (a symlink out is refused)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'prtip-lfs-'));
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'a.txt'), 'hello lfs\n');
  writeFileSync(join(root, 'b.dat'), Buffer.alloc(1234));
  symlinkSync('/etc', join(root, 'escape'));
  const e = await engine({ readDirs: [root, '/usr/share/nmap'] });
  t.teardown(() => e.close());
  const r = await runOne(e, 'fs', `
    local out = {}
    local names = {}
    for n in lfs.dir("${root}") do names[#names + 1] = n end
    table.sort(names)
    out[#out + 1] = table.concat(names, ",")
    out[#out + 1] = lfs.attributes("${root}/b.dat", "size")
    local a = lfs.attributes("${root}/sub")
    out[#out + 1] = a.mode
    out[#out + 1] = lfs.attributes("${root}/sub/a.txt").mode
    out[#out + 1] = lfs.symlinkattributes("${root}/escape", "mode")
    out[#out + 1] = tostring(select(2, lfs.attributes("/etc/passwd")))
    local ok, err = pcall(lfs.dir, "${root}/escape")
    out[#out + 1] = tostring(ok) .. ":" .. tostring(err)
    out[#out + 1] = tostring(select(2, lfs.mkdir("${root}/new")))
    out[#out + 1] = tostring(select(2, lfs.attributes("${root}/missing")))
    out[#out + 1] = lfs.get_path_separator() .. tostring(require("lfs") == lfs)
    local n = 0
    for f in lfs.dir("/usr/share/nmap/nselib") do n = n + 1 end
    out[#out + 1] = n
    return table.concat(out, "|")`);
  t.equal(r.kind, 'ok', JSON.stringify(r));
  const p = r.kind === 'ok' ? r.output!.split('|') : [];
  t.equal(p[0], ['.', '..', 'b.dat', 'escape', 'sub'].join(','));
  t.equal(p[1], String(statSync(join(root, 'b.dat')).size));
  t.equal(p[2], 'directory');
  t.equal(p[3], 'file');
  t.equal(p[4], 'link', 'symlinkattributes sees the link itself');
  t.match(p[5], /\/etc\/passwd: outside the script data directories/);
  t.match(p[6], /^false:cannot open .*escape: .*outside the script data directories/, 'a symlink to /etc is not a way out');
  t.match(p[7], /read-only/);
  t.match(p[8], /No such file or directory/);
  t.equal(p[9], '/true', 'lfs is a global and a module, as in nmap');
  t.equal(p[10], String(readdirSync(NSELIB).length + 2), 'lfs.dir lists nselib as readdir does (with . and ..)');
});
