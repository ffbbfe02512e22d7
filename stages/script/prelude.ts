/**
 * The Lua side of prtip's NSE engine, run once in each fresh Lua state before any script.
 *
 * It builds the sandbox (what scripts may see of os/io/debug, a `require` that reads nselib
 * read-only through the host, text-only `load`), the coroutine replacements that carry a
 * blocking call's yield up to the script's base thread, the `nmap` module over the host's
 * primitives, and the functions the TypeScript runner calls (`__define`, `__host`, `__run`).
 *
 * Every primitive is `prim(op, ...)`: it returns values, or (YIELD, op id) when the operation
 * is asynchronous — the Lua wrapper then yields (YIELD, id) to the runner, which resumes the
 * base thread with the operation's results once Node has them.
 */
import { C_MODULES_LUA } from './prelude-cmodules.js';

export const PRELUDE = String.raw`
local prim = __prim
__prim = nil
local LPEG_SRC = __lpeg_src
__lpeg_src = nil
local Y = "\0NSE_YIELD"
local pack, unpack, concat, insert, sort = table.pack, table.unpack, table.concat, table.insert, table.sort
local type, pairs, ipairs, tostring, tonumber, error, pcall, select, setmetatable, getmetatable, rawget, rawset, next =
  type, pairs, ipairs, tostring, tonumber, error, pcall, select, setmetatable, getmetatable, rawget, rawset, next
local raw_create, raw_resume, raw_yield, raw_status, raw_running, raw_isyieldable, raw_close =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.status, coroutine.running, coroutine.isyieldable, coroutine.close
local raw_load = load
local os_time, os_date, os_clock, os_difftime = os.time, os.date, os.clock, os.difftime
local dbg_getinfo, dbg_traceback = debug.getinfo, debug.traceback

-- A primitive call, blocking the script (not Node) when the host answers later.
local function P(op, ...)
  local r = pack(prim(op, ...))
  if r[1] == Y then return raw_yield(Y, r[2]) end
  return unpack(r, 1, r.n)
end

---------------------------------------------------------------- coroutines
-- A blocking call inside a script's own coroutine must suspend the whole script thread:
-- the replacements pass such a yield up and hand the results back down.
local function handle(co, ok, ...)
  if ok and (...) == Y and raw_status(co) == "suspended" then
    return handle(co, raw_resume(co, raw_yield(...)))
  end
  return ok, ...
end
coroutine.resume = function(co, ...) return handle(co, raw_resume(co, ...)) end
coroutine.wrap = function(f)
  local co = raw_create(f)
  return function(...)
    local function unwrap(ok, ...)
      if ok then return ... end
      local e = ...
      if type(e) == "string" then error(e, 0) end
      error(e)
    end
    return unwrap(handle(co, raw_resume(co, ...)))
  end
end

---------------------------------------------------------------- sandbox
local ROOT = _G
local loaded = package.loaded
local C_MODULES_MISSING = { bit = true }

local function safe_load(chunk, name, mode, env)
  if type(chunk) ~= "string" then
    -- a reader function: gather its pieces first
    local parts = {}
    while true do
      local piece = chunk()
      if piece == nil or piece == "" then break end
      parts[#parts + 1] = piece
    end
    chunk = concat(parts)
  end
  if chunk:byte(1) == 27 then return nil, "binary chunks are not allowed" end
  return raw_load(chunk, name, "t", env or ROOT)
end

local function safe_require(name)
  local m = loaded[name]
  if m ~= nil then return m end
  if name == "lpeg" then
    -- prtip's LPeg, in Lua (the real one is a C module)
    local f = assert(raw_load(LPEG_SRC, "=prtip-lpeg", "t", ROOT))
    loaded.lpeg = f()
    return loaded.lpeg
  end
  if C_MODULES_MISSING[name] then
    error("module '" .. name .. "' not found: it is a C module prtip does not provide", 2)
  end
  local path, src = prim("read_lib", name)
  if not path then error("module '" .. name .. "' not found: " .. tostring(src), 2) end
  local f, err = raw_load(src, "@" .. path, "t", ROOT)
  if not f then error(err, 2) end
  local r = f(name, path)
  if r == nil then r = loaded[name] or true end
  loaded[name] = r
  return r
end

-- os: only the clock and calendar.
local safe_os = {
  time = os_time, date = os_date, clock = os_clock, difftime = os_difftime,
  getenv = function() return nil end,
}
-- io: reading files from the allowed data directories, nothing else.
local function file_object(content)
  local pos = 1
  local f = {}
  local function read1(fmt)
    fmt = fmt or "l"
    if type(fmt) == "string" then fmt = fmt:gsub("^%*", "") end
    if pos > #content then
      if fmt == "a" then return "" end
      return nil
    end
    if type(fmt) == "number" then
      local s = content:sub(pos, pos + fmt - 1); pos = pos + #s; return s
    elseif fmt == "a" then
      local s = content:sub(pos); pos = #content + 1; return s
    elseif fmt == "n" then
      local s, e = content:find("^%s*[-+]?%d*%.?%d+[eE]?[-+]?%d*", pos)
      if not s then return nil end
      pos = e + 1; return tonumber(content:sub(s, e))
    else
      local e = content:find("\n", pos, true)
      local line
      if e then line = content:sub(pos, fmt == "L" and e or e - 1); pos = e + 1
      else line = content:sub(pos); pos = #content + 1 end
      return line
    end
  end
  function f:read(...)
    local n = select("#", ...)
    if n == 0 then return read1() end
    local out = {}
    for i = 1, n do out[i] = read1((select(i, ...))) end
    return unpack(out, 1, n)
  end
  function f:lines(fmt) return function() return read1(fmt) end end
  function f:close() return true end
  function f:seek(whence, off)
    whence = whence or "cur"; off = off or 0
    if whence == "set" then pos = off + 1 elseif whence == "end" then pos = #content + off + 1 else pos = pos + off end
    return pos - 1
  end
  function f:write() return nil, "file is read-only" end
  function f:setvbuf() return true end
  return setmetatable(f, { __name = "FILE*", __tostring = function() return "file" end })
end
local safe_io = {
  open = function(path, mode)
    mode = mode or "r"
    if not mode:match("^r") then return nil, path .. ": writing files is not allowed in prtip's sandbox" end
    local content, err = prim("read_file", tostring(path))
    if not content then return nil, err end
    return file_object(content)
  end,
  lines = function(path, ...)
    local f, err = ROOT.io.open(path)
    if not f then error(err, 2) end
    return f:lines(...)
  end,
  write = function(...)
    local t = pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    prim("log", "stdout", concat(t))
    return true
  end,
  read = function() return nil end,
}
safe_io.stdout = { write = function(self, ...) safe_io.write(...) return self end, flush = function() end }
safe_io.stderr = safe_io.stdout
-- debug: introspection only (strict.lua and stdnse use getinfo; errors use traceback).
local safe_debug = { getinfo = dbg_getinfo, traceback = dbg_traceback }

local safe_collect = collectgarbage
collectgarbage = function(opt, ...)
  if opt == nil or opt == "collect" or opt == "count" or opt == "step" or opt == "isrunning" then
    return safe_collect(opt, ...)
  end
  return 0
end

os, io, debug = safe_os, safe_io, safe_debug
loaded.os, loaded.io, loaded.debug = safe_os, safe_io, safe_debug
loaded.coroutine = coroutine
load = safe_load
loadfile, dofile = nil, nil
loadstring = nil
require = safe_require
package.loadlib = nil
package.searchers = {}
package.cpath = ""
package.path = ""
package.preload = {}
string.dump = nil
print = function(...)
  local t = pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  prim("log", "stdout", concat(t, "\t"))
end

---------------------------------------------------------------- nmap
local nmap = {}
loaded.nmap = nmap
local OPT = {}  -- filled by __configure
nmap.registry = { args = {} }
-- As nmap: a script selected by name sees one more level of verbosity.
function nmap.verbosity()
  local c = ROOT.__info_now and ROOT.__info_now()
  return (OPT.verbosity or 0) + ((c and c.byname) and 1 or 0)
end
function nmap.debugging() return OPT.debugging or 0 end
function nmap.timing_level() return OPT.timing or 3 end
function nmap.version_intensity() return OPT.intensity or 7 end
function nmap.address_family() return OPT.af or "inet" end
function nmap.is_privileged() return false end
function nmap.have_ssl() return true end
function nmap.clock() return prim("clock") end
function nmap.clock_ms() return prim("clock") * 1000 end
function nmap.log_write(where, text) prim("log", tostring(where), tostring(text)) end
function nmap.fetchfile(name) return prim("fetchfile", tostring(name)) end
function nmap.get_dns_servers() return {} end
function nmap.list_interfaces() return {} end
function nmap.get_interface() return nil end
function nmap.get_interface_info() return nil, "interface information is not available to scripts in prtip" end
function nmap.resolve() return false, "name resolution is disabled in prtip's script sandbox" end
function nmap.port_is_excluded() return false end
function nmap.add_targets() return false, "adding targets from scripts is not supported by prtip" end
function nmap.new_targets_num() return 0 end
function nmap.get_ttl() return 64 end
function nmap.get_payload_length() return 0 end
function nmap.new_dnet() error("raw packets (nmap.new_dnet) are not available to scripts in prtip", 2) end
nmap.new_pcap = function() error("packet capture (pcap) is not available to scripts in prtip", 2) end

function nmap.new_try(handler)
  return function(status, ...)
    if status then return ... end
    if handler then handler() end
    error({ errtype = "nmap.new_try", message = (...) }, 0)
  end
end

-- Ports of a host, as the scan found them (host tables carry them in a hidden table).
local HOSTPORTS = setmetatable({}, { __mode = "k" })
local function port_copy(p)
  local c = {}
  for k, v in pairs(p) do c[k] = v end
  if p.version then
    c.version = {}
    for k, v in pairs(p.version) do c.version[k] = v end
  end
  return c
end
local function ports_of(host)
  return HOSTPORTS[host] or (host and host.ip and HOSTPORTS[ROOT.__hosts[host.ip]]) or {}
end
function nmap.get_port_state(host, port)
  local n, proto = tonumber(port.number), port.protocol or "tcp"
  for _, p in ipairs(ports_of(host)) do
    if p.number == n and p.protocol == proto then return port_copy(p) end
  end
  return nil
end
-- nmap.get_ports is a cursor: the first matching port after "port" (the first of all when nil).
function nmap.get_ports(host, port, proto, state)
  local list = ports_of(host)
  local i = 0
  if port then
    for k, p in ipairs(list) do if p.number == port.number and p.protocol == port.protocol then i = k end end
    if i == 0 then return nil end
  end
  for k = i + 1, #list do
    local p = list[k]
    if (not proto or p.protocol == proto) and (not state or p.state == state) then return port_copy(p) end
  end
  return nil
end
local function real_port(host, port)
  local n, proto = tonumber(type(port) == "table" and port.number or port), type(port) == "table" and port.protocol or "tcp"
  for _, p in ipairs(ports_of(host)) do
    if p.number == n and p.protocol == proto then return p end
  end
end
function nmap.set_port_state(host, port, state)
  local p = real_port(host, port)
  if p and (state == "open" or state == "closed") then p.state = state; port.state = state end
end
function nmap.set_port_version(host, port, probestate)
  local p = real_port(host, port)
  if not p then return end
  p.version = p.version or {}
  for k, v in pairs(port.version or {}) do p.version[k] = v end
  if port.version and port.version.name then p.service = port.version.name end
end

-- mutex and condvar: keyed by object identity, waiting is a blocking primitive.
local KEYS = setmetatable({}, { __mode = "k" })
local nextkey = 0
local function key_of(obj)
  local k = KEYS[obj]
  if not k then nextkey = nextkey + 1; k = nextkey; KEYS[obj] = k end
  return k
end
local MUTEXES = setmetatable({}, { __mode = "k" })
-- Threads the runner has finished or stopped: a mutex they held is free again (as in nmap,
-- where a thread's end releases its mutexes).
local FINISHED = setmetatable({}, { __mode = "k" })
function ROOT.__finished(co) FINISHED[co] = true end
local function base_thread() return rawget(ROOT, "__running") or raw_running() end
local function gone(co) return co == nil or FINISHED[co] or raw_status(co) == "dead" end
function nmap.mutex(obj)
  local m = MUTEXES[obj]
  if m then return m end
  local key = "m" .. key_of(obj)
  local owner
  m = function(op)
    local me = base_thread()
    if op == "lock" then
      -- woken by "done", or every 50 ms to see whether the owner ended without "done"
      while not gone(owner) and owner ~= me do P("wait", key, 50) end
      owner = me
      return true
    elseif op == "trylock" then
      if gone(owner) then owner = me; return true end
      return false
    elseif op == "done" then
      if owner ~= me then error("Do not have a lock on this mutex", 2) end
      owner = nil
      prim("notify", key, false)
      return true
    elseif op == "running" then
      if gone(owner) then return nil end
      return owner
    end
    error("invalid mutex operation '" .. tostring(op) .. "'", 2)
  end
  MUTEXES[obj] = m
  return m
end
function nmap.condvar(obj)
  local key = "c" .. key_of(obj)
  return function(op)
    if op == "wait" then P("wait", key)
    elseif op == "signal" then prim("notify", key, false)
    elseif op == "broadcast" then prim("notify", key, true)
    else error("invalid condition variable operation '" .. tostring(op) .. "'", 2) end
  end
end

-- Sockets: buffering and delimiters live here, bytes move through the host.
local Socket = {}
Socket.__index = Socket
local function addr_of(h) if type(h) == "table" then return h.ip end return h end
local function portnum(p) if type(p) == "table" then return tonumber(p.number) end return tonumber(p) end
local function proto_of(p, proto)
  if proto then return proto end
  if type(p) == "table" and p.protocol then return p.protocol end
  return "tcp"
end
function nmap.new_socket(proto, af)
  local s = setmetatable({ proto = proto or "tcp", timeout = 30000, buf = "" }, Socket)
  s.id = prim("sock_new", s.proto)
  return s
end
function Socket:set_timeout(ms) self.timeout = tonumber(ms) or self.timeout; return true end
function Socket:connect(host, port, protocol)
  local ip = addr_of(host)
  local proto = proto_of(port, protocol or self.proto ~= "tcp" and self.proto or nil)
  local ok, err = P("sock_connect", self.id, tostring(ip), portnum(port), proto, self.timeout)
  if ok then self.buf = ""; self.peer = { ip, portnum(port), proto } end
  if ok then return true end
  return false, err
end
function Socket:reconnect_ssl()
  local ok, err = P("sock_starttls", self.id, self.timeout)
  if ok then self.buf = ""; return true end
  return false, err
end
function Socket:send(data)
  local ok, err = P("sock_send", self.id, tostring(data), self.timeout)
  if ok then return true end
  return false, err
end
function Socket:sendto(host, port, data)
  local ok, err = P("sock_sendto", self.id, tostring(addr_of(host)), portnum(port), tostring(data), self.timeout)
  if ok then return true end
  return false, err
end
-- Reads once more into the buffer; false, "TIMEOUT"/"EOF"/message when nothing came.
function Socket:fill()
  local data, err = P("sock_read", self.id, self.timeout)
  if not data then return false, err end
  self.buf = self.buf .. data
  return true
end
function Socket:receive()
  if #self.buf > 0 then local b = self.buf; self.buf = ""; return true, b end
  local ok, err = self:fill()
  if not ok then return false, err end
  local b = self.buf; self.buf = ""
  return true, b
end
function Socket:receive_bytes(n)
  n = tonumber(n) or 1
  while #self.buf < n do
    local ok, err = self:fill()
    if not ok then
      if #self.buf > 0 and err == "EOF" then break end
      return false, err
    end
  end
  local b = self.buf; self.buf = ""
  return true, b
end
function Socket:receive_lines(n)
  n = tonumber(n) or 1
  local function count() local _, c = self.buf:gsub("\n", "") return c end
  while count() < n do
    local ok, err = self:fill()
    if not ok then
      if #self.buf > 0 and err == "EOF" then break end
      return false, err
    end
  end
  local b = self.buf; self.buf = ""
  return true, b
end
function Socket:receive_buf(delimiter, keeppattern)
  while true do
    local s, e
    if type(delimiter) == "function" then s, e = delimiter(self.buf)
    else s, e = self.buf:find(delimiter) end
    if s and e then
      local out
      if keeppattern then out = self.buf:sub(1, e) else out = self.buf:sub(1, s - 1) end
      self.buf = self.buf:sub(e + 1)
      return true, out
    end
    local ok, err = self:fill()
    if not ok then
      if err == "EOF" and #self.buf > 0 then
        local b = self.buf; self.buf = ""; return true, b
      end
      return false, err
    end
  end
end
function Socket:close()
  prim("sock_close", self.id)
  self.buf = ""
  return true
end
function Socket:get_info()
  local lh, lp, rh, rp = prim("sock_info", self.id)
  if not lh then return false, "Trying to get info from a closed socket." end
  return true, lh, lp, rh, rp
end
function Socket:get_ssl_certificate()
  local der = prim("sock_cert", self.id)
  if not der then return nil end
  return nmap.socket.parse_ssl_certificate(der)
end
function Socket:bind() return false, "binding sockets is not allowed in prtip's script sandbox" end
local function no_raw() return false, "raw packets are not available to scripts in prtip" end
Socket.pcap_open, Socket.pcap_receive, Socket.ip_open, Socket.ip_send, Socket.ethernet_open, Socket.ethernet_send =
  no_raw, no_raw, no_raw, no_raw, no_raw, no_raw
function Socket.pcap_close() end
function Socket.ip_close() end
function Socket.ethernet_close() end
Socket.__gc = function(self) prim("sock_close", self.id) end

-- Certificates: the host parses DER into the table nmap's C module builds.
local function cert_from(t, der)
  local digest_of = t.__digests
  t.__digests = nil
  t.pem = t.pem
  t.digest = function(self, algo)
    local d = prim("digest", tostring(algo), der)
    return d
  end
  for _, part in ipairs({ "subject", "issuer" }) do
    local name = t[part]
    -- keys are long names; the OID of each attribute is also a key, as a table of numbers
    if name and name.__oids then
      for _, pair in ipairs(name.__oids) do
        local oid = {}
        for n in pair[1]:gmatch("%d+") do oid[#oid + 1] = tonumber(n) end
        name[oid] = pair[2]
      end
      name.__oids = nil
    end
  end
  if t.pubkey and t.pubkey.__modulus then
    t.pubkey.modulus = ROOT.__bignum_from_hex(t.pubkey.__modulus)
    t.pubkey.exponent = ROOT.__bignum_from_hex(t.pubkey.__exponent)
    t.pubkey.__modulus, t.pubkey.__exponent = nil, nil
  end
  return t
end
nmap.socket = {
  sleep = function(t) P("sleep", tonumber(t) or 0) end,
  parse_ssl_certificate = function(der)
    local t, err = prim("parse_cert", der)
    if not t then return nil, err end
    return cert_from(t, der)
  end,
}
function nmap.get_ssl_certificate() return nil end
nmap.receive_buf = Socket.receive_buf
nmap.receive_lines = Socket.receive_lines
${C_MODULES_LUA}

---------------------------------------------------------------- openssl (over node:crypto)
local openssl = {}
loaded.openssl = openssl
local BN = {}
BN.__index = BN
local function bn(hex) return setmetatable({ hex = hex }, BN) end
ROOT.__bignum_from_hex = bn
local function hexof(x)
  if getmetatable(x) == BN then return x.hex end
  if type(x) == "number" then return string.format("%x", x) end
  error("bignum expected", 3)
end
BN.__tostring = function(self) return prim("bn", "dec", self.hex) end
BN.__eq = function(a, b) return prim("bn", "cmp", hexof(a), hexof(b)) == 0 end
BN.__lt = function(a, b) return prim("bn", "cmp", hexof(a), hexof(b)) < 0 end
BN.__le = function(a, b) return prim("bn", "cmp", hexof(a), hexof(b)) <= 0 end
function openssl.bignum_bin2bn(s) return bn(prim("bn", "bin2hex", s)) end
function openssl.bignum_dec2bn(s) return bn(prim("bn", "dec2hex", tostring(s))) end
function openssl.bignum_hex2bn(s) return bn(prim("bn", "norm", tostring(s))) end
function openssl.bignum_bn2bin(a) return prim("bn", "bn2bin", hexof(a)) end
function openssl.bignum_bn2dec(a) return prim("bn", "dec", hexof(a)) end
function openssl.bignum_bn2hex(a) return prim("bn", "upperhex", hexof(a)) end
function openssl.bignum_num_bits(a) return prim("bn", "bits", hexof(a)) end
function openssl.bignum_num_bytes(a) return prim("bn", "bytes", hexof(a)) end
function openssl.bignum_is_bit_set(a, n) return prim("bn", "bit", hexof(a), tonumber(n)) end
function openssl.bignum_is_prime(a) return prim("bn", "prime", hexof(a)) end
function openssl.bignum_is_safe_prime(a) return prim("bn", "safeprime", hexof(a)) end
function openssl.bignum_set_bit(a, n) a.hex = prim("bn", "setbit", hexof(a), tonumber(n)) return a end
function openssl.bignum_clear_bit(a, n) a.hex = prim("bn", "clearbit", hexof(a), tonumber(n)) return a end
function openssl.bignum_rand(bits) return bn(prim("bn", "rand", tonumber(bits))) end
function openssl.bignum_pseudo_rand(bits) return bn(prim("bn", "rand", tonumber(bits))) end
function openssl.bignum_mod_exp(a, p, m) return bn(prim("bn", "modexp", hexof(a), hexof(p), hexof(m))) end
function openssl.bignum_add(a, b) return bn(prim("bn", "add", hexof(a), hexof(b))) end
function openssl.bignum_sub(a, b) return bn(prim("bn", "sub", hexof(a), hexof(b))) end
function openssl.bignum_mul(a, b) return bn(prim("bn", "mul", hexof(a), hexof(b))) end
function openssl.bignum_div(a, b)
  local q, r = prim("bn", "div", hexof(a), hexof(b))
  return bn(q), bn(r)
end
function openssl.bignum_mod(a, b) return bn(prim("bn", "mod", hexof(a), hexof(b))) end
function openssl.bignum_cmp(a, b) return prim("bn", "cmp", hexof(a), hexof(b)) end
function openssl.bignum_gcd(a, b) return bn(prim("bn", "gcd", hexof(a), hexof(b))) end
-- bignums are objects too: bn:num_bytes(), bn:tobin(), bn:todec() …
for name, f in pairs(openssl) do
  local m = name:match("^bignum_(.+)$")
  if m and type(f) == "function" then BN[m] = f end
end
BN.tobin, BN.todec, BN.tohex = openssl.bignum_bn2bin, openssl.bignum_bn2dec, openssl.bignum_bn2hex
function openssl.rand_bytes(n) return prim("rand_bytes", tonumber(n)) end
openssl.rand_pseudo_bytes = openssl.rand_bytes
for _, algo in ipairs({ "md4", "md5", "sha1", "sha256", "sha512", "ripemd160" }) do
  openssl[algo] = function(data) return prim("digest", algo, tostring(data)) end
end
function openssl.digest(algo, data) return prim("digest", tostring(algo), tostring(data)) end
function openssl.hmac(algo, key, data) return prim("hmac", tostring(algo), tostring(key), tostring(data)) end
function openssl.encrypt(algo, key, iv, data, padding)
  local out, err = prim("cipher", "encrypt", tostring(algo), tostring(key), iv and tostring(iv) or "", tostring(data), padding and true or false)
  if not out then error(err, 2) end
  return out
end
function openssl.decrypt(algo, key, iv, data, padding)
  local out, err = prim("cipher", "decrypt", tostring(algo), tostring(key), iv and tostring(iv) or "", tostring(data), padding and true or false)
  if not out then error(err, 2) end
  return out
end
function openssl.supported_ciphers() return prim("ciphers") end
function openssl.supported_digests() return prim("digests") end
function openssl.DES_string_to_key(s)
  return prim("des_key", tostring(s))
end

---------------------------------------------------------------- scripts
local SCRIPTS = {}
ROOT.__hosts = {}
local current  -- the last started thread's info: { id, host, port, type, co, worker }
local CURRENT = setmetatable({}, { __mode = "k" }) -- base coroutine -> info
-- The runner sets __running to the base thread it resumes: nested coroutines still know their script.
local function info_now() return CURRENT[rawget(ROOT, "__running") or raw_running()] or current end
ROOT.__info_now = info_now

function ROOT.__configure(opts, args)
  for k, v in pairs(opts) do OPT[k] = v end
  nmap.registry.args = args
end

-- Defines a script from its source: metadata now, a fresh environment per thread later.
function ROOT.__define(id, path, src, byname)
  local env = setmetatable({ SCRIPT_PATH = path, SCRIPT_NAME = id, SCRIPT_TYPE = "" }, { __index = ROOT })
  local f, err = raw_load(src, "@" .. path, "t", env)
  if not f then return nil, err end
  local ok, e = pcall(f)
  if not ok then return nil, tostring(type(e) == "table" and e.message or e) end
  local deps = {}
  for _, d in ipairs(type(env.dependencies) == "table" and env.dependencies or {}) do deps[#deps + 1] = tostring(d) end
  local rules = {}
  for _, r in ipairs({ "prerule", "hostrule", "portrule", "postrule" }) do
    if type(rawget(env, r)) == "function" then rules[#rules + 1] = r end
  end
  if type(rawget(env, "action")) ~= "function" then return nil, "script has no action function" end
  -- Compiled once as a generator taking the environment (as nse_main.lua does): every thread
  -- gets fresh script globals without compiling again. The prefix adds no line, so error
  -- messages keep the file's line numbers.
  local gen, gerr = raw_load("return function(_ENV) return function(...) " .. src .. "\nend end", "@" .. path, "t", ROOT)
  if not gen then return nil, gerr end
  SCRIPTS[id] = { id = id, path = path, gen = gen(), byname = byname and true or false }
  return concat(rules, ","), concat(deps, ",")
end

local function host_copy(h)
  local c = {}
  for k, v in pairs(h) do c[k] = v end
  HOSTPORTS[c] = HOSTPORTS[h]
  return c
end

-- Creates or refreshes the table for one target host.
function ROOT.__host(desc)
  local h = ROOT.__hosts[desc.ip]
  if not h then
    h = { registry = {} }
    ROOT.__hosts[desc.ip] = h
  end
  for k, v in pairs(desc) do if k ~= "ports" then h[k] = v end end
  local list = {}
  for _, p in ipairs(desc.ports or {}) do list[#list + 1] = p end
  HOSTPORTS[h] = list
end

-- Structured output as a list the host reads: { k = key or nil, v = text } or { k = key, t = { ... } }.
local function encode(obj)
  if type(obj) ~= "table" then return { v = tostring(obj) } end
  local mt = getmetatable(obj)
  if mt and mt.__tostring and not (mt.__pairs or mt.__index) then return { v = tostring(obj) } end
  local items = {}
  for _, v in ipairs(obj) do items[#items + 1] = encode(v) end
  for k, v in pairs(obj) do
    if type(k) == "string" then
      local e = encode(v)
      e.k = k
      items[#items + 1] = e
    end
  end
  return { t = items }
end

-- nmap's automatic formatting of a table into text: integer keys first, then string keys
-- as "key: value"; nested tables indented two more spaces.
local function format_table(obj, indent)
  indent = indent or "  "
  if type(obj) ~= "table" then return tostring(obj) end
  local mt = getmetatable(obj)
  if mt and mt.__tostring then return tostring(obj) end
  local lines = {}
  for _, v in ipairs(obj) do
    lines[#lines + 1] = "\n" .. indent .. format_table(v, indent .. "  ")
  end
  for k, v in pairs(obj) do
    if type(k) == "string" then
      lines[#lines + 1] = "\n" .. indent .. k .. ": " .. format_table(v, indent .. "  ")
    end
  end
  return concat(lines)
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end
local function to_json(node)
  local parts = {}
  if node.k then parts[#parts + 1] = '"k":' .. json_string(node.k) end
  if node.t then
    local items = {}
    for i, n in ipairs(node.t) do items[i] = to_json(n) end
    parts[#parts + 1] = '"t":[' .. concat(items, ",") .. "]"
  else
    parts[#parts + 1] = '"v":' .. json_string(node.v)
  end
  return "{" .. concat(parts, ",") .. "}"
end

-- Runs one script against one target in the calling (fresh) thread:
-- returns nil when the rule says no, else "ok"/"error", output text, structured JSON.
function ROOT.__run(id, rule, ip, portno, proto)
  local s = SCRIPTS[id]
  if not s then return "error", "script " .. tostring(id) .. " is not defined" end
  local forced = rule:sub(1, 7) == "forced:"
  if forced then rule = rule:sub(8) end
  local types = { prerule = "prerule", hostrule = "hostrule", portrule = "portrule", postrule = "postrule" }
  local env = setmetatable({ SCRIPT_PATH = s.path, SCRIPT_NAME = id, SCRIPT_TYPE = types[rule] }, { __index = ROOT })
  s.gen(env)()
  local host, port
  if ip then
    host = host_copy(ROOT.__hosts[ip])
    if portno then
      for _, p in ipairs(HOSTPORTS[ROOT.__hosts[ip]]) do
        if p.number == portno and p.protocol == proto then port = port_copy(p) end
      end
    end
  end
  local info = { id = id, host = host, port = port, type = rule, co = raw_running(), worker = false, byname = s.byname }
  CURRENT[raw_running()] = info
  current = info
  if not forced and not env[rule](host, port) then return nil end
  prim("action_starting")
  local r = pack(xpcall(env.action, function(e)
    if type(e) == "table" and e.errtype == "nmap.new_try" then return e end
    return dbg_traceback(tostring(e), 2)
  end, host, port))
  if not r[1] then
    local e = r[2]
    if type(e) == "table" and e.errtype == "nmap.new_try" then return "quiet", tostring(e.message) end
    return "error", tostring(e)
  end
  local r1, r2 = r[2], r[3]
  local tab, str
  if r2 ~= nil then tab, str = r1, tostring(r2)
  elseif type(r1) == "string" then str = r1
  elseif r1 == nil then return "ok"
  else tab = r1 end
  if tab ~= nil and type(tab) ~= "table" then str, tab = str or tostring(tab), nil end
  if str == nil then str = format_table(tab) end
  local structured = tab and to_json(encode(tab)) or nil
  return "ok", str, structured
end

-- The thread-identity functions nse_main.lua gives stdnse, and its worker threads.
local function install_stdnse(stdnse)
  rawset(stdnse, "getid", function() local c = info_now() return c and c.id end)
  rawset(stdnse, "getinfo", function() local c = info_now() return c and c.id end)
  rawset(stdnse, "gethostport", function() local c = info_now() if c then return c.host, c.port end end)
  rawset(stdnse, "base", function() local c = info_now() return c and c.co end)
  rawset(stdnse, "gettid", function() return tostring(raw_running()) end)
  rawset(stdnse, "silent_require", function(...)
    local ok, mod = pcall(safe_require, ...)
    if not ok then error({ errtype = "nmap.new_try", message = "missing module: " .. tostring(mod) }, 0) end
    return mod
  end)
  rawset(stdnse, "new_thread", function(main, ...)
    assert(type(main) == "function", "function expected")
    local parent = info_now()
    local args = pack(...)
    local co = raw_create(function() return main(unpack(args, 1, args.n)) end)
    CURRENT[co] = parent and { id = parent.id, host = parent.host, port = parent.port, type = parent.type, co = co, worker = true, byname = parent.byname }
    prim("new_worker", co)
    return co, {}
  end)
end
local stdnse = safe_require("stdnse")
install_stdnse(stdnse)
`;
