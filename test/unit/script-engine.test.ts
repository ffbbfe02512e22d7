// The NSE engine on hand-written scripts: the sandbox holds (files, processes, binary chunks,
// connections outside the scan), runaway scripts are stopped with a message while the next
// script still runs, and socket calls are byte-exact over real loopback sockets.
import t from 'tap';
import net from 'node:net';
import { NseEngine, type NseEngineOptions } from '../../stages/script/engine.js';

const NSELIB = '/usr/share/nmap/nselib';

async function engine(over: Partial<NseEngineOptions> = {}): Promise<NseEngine> {
  return NseEngine.create({
    nselibDirs: [NSELIB], readDirs: ['/usr/share/nmap'], fetchDirs: ['/usr/share/nmap'],
    memoryMax: 64 * 2 ** 20, scriptTimeoutMs: 5000, cpuSliceMs: 500, verbosity: 0, debugging: 0, timing: 3,
    args: { greeting: 'hi', '1': 'flag' }, policy: () => undefined, log: () => {}, ...over,
  });
}

const script = (body: string) => `description = "test"\ncategories = {"safe"}\nportrule = function() return true end\naction = function(host, port)\n${body}\nend\n`;

async function runOne(e: NseEngine, id: string, body: string, port = 1) {
  const def = e.define(id, `/test/${id}.nse`, script(body));
  if ('error' in def) throw new Error(def.error);
  e.setHost({ ip: '127.0.0.1', ports: [{ number: port, protocol: 'tcp', state: 'open', service: 'x', version: {} }] });
  return e.run(id, 'portrule', { ip: '127.0.0.1', port, proto: 'tcp' });
}

t.test('structured output and text, as nmap formats a returned table', async (t) => {
  const e = await engine();
  t.teardown(() => e.close());
  const r = await runOne(e, 'tab', `local stdnse = require "stdnse"\nlocal o = stdnse.output_table()\no.name = "v"\no.list = {"a", "b"}\nreturn o`);
  t.same(r, {
    kind: 'ok', output: '\n  name: v\n  list: \n    a\n    b',
    structured: { t: [{ k: 'name', v: 'v' }, { k: 'list', t: [{ v: 'a' }, { v: 'b' }] }] },
  });
  const s = await runOne(e, 'str', 'return "plain"');
  t.same(s, { kind: 'ok', output: 'plain' });
  const args = await runOne(e, 'args', 'local stdnse = require "stdnse"\nreturn tostring(stdnse.get_script_args("args.greeting")) .. "/" .. tostring(stdnse.get_script_args("flag"))');
  t.same(args, { kind: 'ok', output: 'hi/1' }, '--script-args reach stdnse.get_script_args (named and bare)');
});

t.test('the sandbox: no processes, no files outside the data dirs, no binary chunks', async (t) => {
  const e = await engine();
  t.teardown(() => e.close());
  const r = await runOne(e, 'box', `
    local out = {}
    out[#out+1] = tostring(os.execute)
    out[#out+1] = tostring(io.popen)
    local f, err = io.open("/etc/passwd")
    out[#out+1] = tostring(f) .. ":" .. tostring(err)
    local w, werr = io.open("/usr/share/nmap/nmap-services", "w")
    out[#out+1] = tostring(w) .. ":" .. tostring(werr)
    local g = io.open("/usr/share/nmap/nmap-services")
    out[#out+1] = g and (g:read("l") ~= nil and "readable" or "empty") or "missing"
    local chunk, lerr = load("\\27Lua binary")
    out[#out+1] = tostring(chunk) .. ":" .. tostring(lerr)
    out[#out+1] = tostring(loadfile) .. tostring(dofile) .. tostring(debug.sethook) .. tostring(package.loadlib)
    local ok, rerr = pcall(require, "bit")
    out[#out+1] = tostring(ok) .. ":" .. tostring(rerr):match("C module prtip does not provide") 
    return table.concat(out, "|")`);
  t.equal(r.kind, 'ok');
  const parts = r.kind === 'ok' ? r.output!.split('|') : [];
  t.equal(parts[0], 'nil', 'os.execute absent');
  t.equal(parts[1], 'nil', 'io.popen absent');
  t.match(parts[2], /^nil:\/etc\/passwd: reading outside the script data directories is not allowed$/);
  t.match(parts[3], /^nil:.*writing files is not allowed/);
  t.equal(parts[4], 'readable', 'nmap data files can be read');
  t.equal(parts[5], 'nil:binary chunks are not allowed');
  t.equal(parts[6], 'nilnilnilnil', 'loadfile, dofile, debug.sethook, package.loadlib absent');
  t.equal(parts[7], 'false:C module prtip does not provide');
});

t.test('a script that loops forever is stopped, even inside pcall; the next script runs', async (t) => {
  const e = await engine({ cpuSliceMs: 300 });
  t.teardown(() => e.close());
  const loop = await runOne(e, 'loop', 'while true do end');
  t.equal(loop.kind, 'stopped');
  t.match(loop.kind === 'stopped' ? loop.message : '', /ran 300 ms of CPU without waiting on the network/);
  const swallow = await runOne(e, 'swallow', 'while true do pcall(function() while true do end end) end');
  t.equal(swallow.kind, 'stopped', 'pcall cannot catch the stop');
  const next = await runOne(e, 'after', 'return "still running"');
  t.same(next, { kind: 'ok', output: 'still running' });
});

t.test('a script that allocates without end is stopped; the state stays usable', async (t) => {
  const e = await engine({ memoryMax: 32 * 2 ** 20, cpuSliceMs: 60_000 });
  t.teardown(() => e.close());
  const hog = await runOne(e, 'hog', 'local t = {}\nlocal i = 0\nwhile true do i = i + 1; t[i] = string.rep("x", 1000) .. i end');
  t.equal(hog.kind, 'stopped');
  t.match(hog.kind === 'stopped' ? hog.message : '', /out of memory \(limit 32 MB\)/);
  const next = await runOne(e, 'after', 'collectgarbage()\nreturn "ok " .. tostring(#string.rep("y", 1000))');
  t.same(next, { kind: 'ok', output: 'ok 1000' });
  t.ok(e.memoryUsed < 32 * 2 ** 20);
});

t.test('--script-timeout stops a script that waits too long', async (t) => {
  const e = await engine({ scriptTimeoutMs: 300 });
  t.teardown(() => e.close());
  const r = await runOne(e, 'sleepy', 'local stdnse = require "stdnse"\nstdnse.sleep(30)\nreturn "woke"');
  t.equal(r.kind, 'stopped');
  t.match(r.kind === 'stopped' ? r.message : '', /exceeded --script-timeout \(300 ms\)/);
});

t.test('sockets: byte-exact both ways over loopback, inside a nested coroutine, and the policy refuses', async (t) => {
  const got: Buffer[] = [];
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const server = net.createServer((c) => {
    c.on('data', (d) => {
      got.push(d);
      if (Buffer.concat(got).length >= 4) c.end(all);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const refused: string[] = [];
  const logs: string[] = [];
  const e = await engine({
    trace: true,
    log: (l) => logs.push(l),
    policy: (ip, p) => {
      if (ip === '127.0.0.1' && p === port) return undefined;
      refused.push(`${ip}:${p}`);
      return `connect to ${ip}:${p} refused: not a target of this scan`;
    },
  });
  t.teardown(() => e.close());
  const r = await runOne(e, 'sock', `
    local nmap = require "nmap"
    local s = nmap.new_socket()
    local co = coroutine.wrap(function()
      assert(s:connect(host, port))
      assert(s:send("\\0\\255\\1\\128"))
      local ok, data = s:receive_bytes(256)
      return data
    end)
    local data = co()
    local hex = data:gsub(".", function(c) return string.format("%02x", c:byte()) end)
    local other = nmap.new_socket()
    local ok2, err2 = other:connect("127.0.0.1", ${port + 1})
    return hex .. "|" .. tostring(ok2) .. "|" .. tostring(err2)`, port);
  t.equal(r.kind, 'ok');
  const [hex, ok2, err2] = r.kind === 'ok' ? r.output!.split('|') : [];
  t.equal(hex, all.toString('hex'), 'all 256 byte values arrive unchanged');
  t.same(Buffer.concat(got), Buffer.from([0, 255, 1, 128]), 'the server received the exact bytes');
  t.equal(ok2, 'false');
  t.equal(err2, `connect to 127.0.0.1:${port + 1} refused: not a target of this scan`);
  t.same(refused, [`127.0.0.1:${port + 1}`]);
  t.ok(logs.some((l) => new RegExp(`^NSE: sock TCP 127\\.0\\.0\\.1:\\d+ > 127\\.0\\.0\\.1:${port} \\| \\\\x00\\\\xff\\\\x01\\\\x80$`).test(l)), `--script-trace shows the bytes sent: ${logs.join(' / ')}`);
  t.ok(logs.some((l) => l.startsWith('NSE: sock TCP') && l.includes(` < 127.0.0.1:${port} | \\x00\\x01\\x02`)), 'and the bytes received');
});

t.test('openssl over node:crypto: digests and bignums give the known values', async (t) => {
  const e = await engine();
  t.teardown(() => e.close());
  const r = await runOne(e, 'ossl', `
    local openssl = require "openssl"
    local stdnse = require "stdnse"
    local a = openssl.bignum_dec2bn("123456789012345678901234567890")
    local m = openssl.bignum_mod_exp(openssl.bignum_dec2bn("4"), openssl.bignum_dec2bn("13"), openssl.bignum_dec2bn("497"))
    return stdnse.tohex(openssl.md5("abc")) .. "|" .. stdnse.tohex(openssl.sha1("abc")) .. "|" .. a:todec() .. "|" .. m:todec() .. "|" .. a:num_bits()`);
  // RFC 1321 and FIPS 180 test vectors; 4^13 mod 497 = 445 (the textbook example)
  t.same(r, { kind: 'ok', output: '900150983cd24fb0d6963f7d28e17f72|a9993e364706816aba3e25717850c26c9cd0d89d|123456789012345678901234567890|445|97' });
});

t.test('stdnse.new_thread workers run beside the script; condvar and mutex coordinate them', async (t) => {
  const e = await engine();
  t.teardown(() => e.close());
  const r = await runOne(e, 'workers', `
    local nmap = require "nmap"
    local stdnse = require "stdnse"
    local results, order = {}, {}
    local cv = nmap.condvar(results)
    local m = nmap.mutex("shared")
    local threads = {}
    for i = 1, 4 do
      local co = stdnse.new_thread(function(n)
        m "lock"
        order[#order + 1] = "in" .. n
        stdnse.sleep(0.01)
        order[#order + 1] = "out" .. n
        m "done"
        results[n] = n * n
        cv "signal"
      end, i)
      threads[co] = true
    end
    repeat
      for co in pairs(threads) do if coroutine.status(co) == "dead" then threads[co] = nil end end
      if next(threads) then cv "wait" end
    until next(threads) == nil
    -- the mutex kept the critical sections apart: every "in" is followed by its own "out"
    for k = 1, #order, 2 do assert(order[k]:sub(3) == order[k + 1]:sub(4), table.concat(order, ",")) end
    return table.concat(results, ",") .. "|" .. #order`);
  t.same(r, { kind: 'ok', output: '1,4,9,16|8' });
});

t.test('a script selected by name sees verbosity + 1, as in nmap', async (t) => {
  const e = await engine();
  t.teardown(() => e.close());
  const src = script('return tostring(require("nmap").verbosity())');
  e.setHost({ ip: '127.0.0.1', ports: [{ number: 1, protocol: 'tcp', state: 'open', service: 'x', version: {} }] });
  e.define('bycat', '/test/bycat.nse', src, false);
  e.define('byname', '/test/byname.nse', src, true);
  t.same(await e.run('bycat', 'portrule', { ip: '127.0.0.1', port: 1, proto: 'tcp' }), { kind: 'ok', output: '0' });
  t.same(await e.run('byname', 'portrule', { ip: '127.0.0.1', port: 1, proto: 'tcp' }), { kind: 'ok', output: '1' });
});

t.test("prtip's LPeg (in Lua): nselib's lpeg-utility and json work on it", async (t) => {
  const e = await engine();
  t.teardown(() => e.close());
  const r = await runOne(e, 'lpeg', `
    local lpeg = require "lpeg"
    local U = require "lpeg-utility"
    local json = require "json"
    local out = {}
    out[#out+1] = tostring(lpeg.match(lpeg.C(lpeg.R("az")^1), "hello world"))
    out[#out+1] = table.concat({U.split("a,b,,c", ",")}, "|")
    local ok, t = json.parse('{"a": [1, 2, {"b": "x\\\\u0041"}], "c": true, "e": -1.5e2}')
    out[#out+1] = tostring(ok) .. " " .. tostring(t.a[3].b) .. " " .. tostring(t.c) .. " " .. tostring(t.e)
    out[#out+1] = json.generate({1, 2, "x"})
    out[#out+1] = tostring(U.caseless("abc"):match("AbC"))
    out[#out+1] = lpeg.match(lpeg.Cs((lpeg.P("a") / "b" + 1)^0), "banana")
    out[#out+1] = lpeg.match(lpeg.Ct(lpeg.Cg(lpeg.C(lpeg.R("09")^1), "num") * " " * lpeg.C(lpeg.P(1)^1)), "42 rest").num
    out[#out+1] = tostring(lpeg.match(lpeg.Cf(lpeg.Cc(0) * (lpeg.C(lpeg.R("09")) / tonumber)^1, function(a, b) return a + b end), "12345"))
    out[#out+1] = tostring(lpeg.match(lpeg.P("x") - lpeg.P("xy"), "xy")) .. tostring(lpeg.match(-lpeg.P(1), ""))
    return table.concat(out, "\\n")`);
  t.same(r, { kind: 'ok', output: 'hello\na|b||c\ntrue xA true -150.0\n[1, 2, "x"]\n4\nbbnbnb\n42\n15\nnil1' });
});
