/**
 * The Lua side of the C modules `zlib`, `lfs` and `libssh2` (written for prtip; the host side
 * is c-modules.ts). Spliced into the prelude where `prim`, `P`, `file_object`, `addr_of`,
 * `loaded` and `ROOT` are in scope. The APIs are those nmap's scripts call: lzlib's
 * (zlib.inflate(body):read("*a"), zlib.compress/decompress), LuaFileSystem's (read-only) and
 * nmap's libssh2 binding (session_open, userauth_list, …).
 */
export const C_MODULES_LUA = String.raw`
---------------------------------------------------------------- zlib (lzlib's API)
local zlib = {}
loaded.zlib = zlib
local function zcall(op, ...)
  local out, err = prim("zlib", op, ...)
  if out == nil then error(err, 3) end
  return out
end
-- inflate(source [, windowBits]): a stream read like a file; the bytes inflate on the first read,
-- so a corrupt body fails in :read (http.lua pcalls it) as lzlib's does.
function zlib.inflate(source, windowBits)
  if type(source) == "table" or type(source) == "userdata" then source = source:read("a") end
  if type(source) == "function" then
    local parts = {}
    for piece in source do parts[#parts + 1] = piece end
    source = concat(parts)
  end
  source = tostring(source or "")
  local f
  local stream = {}
  local function inner()
    if not f then f = file_object(zcall("inflate", source, windowBits)) end
    return f
  end
  function stream:read(...) local g = inner() return g:read(...) end
  function stream:lines(...) local g = inner() return g:lines(...) end
  function stream:close() return true end
  return setmetatable(stream, { __name = "zlib.inflate" })
end
-- deflate(sink [, level, method, windowBits, memLevel, strategy]): writes go to sink on close/flush.
function zlib.deflate(sink, level, method, windowBits, memLevel, strategy)
  local parts = {}
  local stream = {}
  local function emit(data)
    if type(sink) == "function" then sink(data)
    elseif sink ~= nil then sink:write(data) end
  end
  function stream:write(...)
    for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
    return self
  end
  function stream:flush() return self end
  function stream:close()
    local out = zcall("deflate", concat(parts), level, windowBits, memLevel, strategy)
    parts = {}
    emit(out)
    return out
  end
  return setmetatable(stream, { __name = "zlib.deflate" })
end
function zlib.compress(s, level, method, windowBits, memLevel, strategy)
  return zcall("deflate", tostring(s), level, windowBits, memLevel, strategy)
end
function zlib.decompress(s, windowBits)
  return zcall("inflate", tostring(s), windowBits or 15)
end
function zlib.adler32(start, s)
  if s == nil then return 1 end
  return zcall("adler32", start or 1, tostring(s))
end
function zlib.crc32(start, s)
  if s == nil then return 0 end
  return zcall("crc32", start or 0, tostring(s))
end
function zlib.version() return "1.2.13" end

---------------------------------------------------------------- lfs (LuaFileSystem, read-only)
local lfs = {}
loaded.lfs = lfs
ROOT.lfs = lfs
local function lfs_attr(op, path, want)
  local t, err, code = prim("lfs", op, tostring(path))
  if not t then return nil, err, code end
  if type(want) == "string" then return t[want] end
  if type(want) == "table" then for k, v in pairs(t) do want[k] = v end return want end
  return t
end
function lfs.attributes(path, want) return lfs_attr("attributes", path, want) end
function lfs.symlinkattributes(path, want) return lfs_attr("symlinkattributes", path, want) end
function lfs.dir(path)
  local names, err = prim("lfs", "dir", tostring(path))
  if not names then error(err, 2) end
  local i, closed = 0, false
  local d = {}
  function d:next()
    if closed then error("calling 'next' on bad self (closed directory)", 2) end
    i = i + 1
    return names[i]
  end
  function d:close() closed = true return true end
  setmetatable(d, { __name = "directory metatable", __index = d })
  return function() if closed then return nil end i = i + 1 return names[i] end, d
end
function lfs.get_path_separator() return "/" end
function lfs.currentdir() return nil, "the working directory is not visible in prtip's script sandbox" end
local function lfs_refused(what)
  return function(path) return nil, tostring(path) .. ": " .. what .. " is not allowed: prtip's script sandbox is read-only" end
end
lfs.mkdir, lfs.rmdir, lfs.touch, lfs.link = lfs_refused("creating directories"), lfs_refused("removing directories"), lfs_refused("changing file times"), lfs_refused("making links")
lfs.chdir = lfs_refused("changing directory")
lfs.lock, lfs.unlock, lfs.lock_dir, lfs.setmode = lfs_refused("locking files"), lfs_refused("unlocking files"), lfs_refused("locking directories"), lfs_refused("changing file modes")
lfs._VERSION = "LuaFileSystem 1.8.0 (prtip, read-only)"

---------------------------------------------------------------- libssh2 (nmap's binding)
local libssh2 = {}
loaded.libssh2 = libssh2
local SSH = { __name = "ssh2" }
SSH.__index = SSH
SSH.__gc = function(s) if s.id then prim("ssh", "session_close", s.id) end end
local function sid(session)
  if getmetatable(session) ~= SSH then error("bad argument #1 (ssh2 session expected)", 3) end
  if not session.id then error("the SSH session is closed", 3) end
  return session.id
end
local function ssh(op, session, ...)
  local r = pack(P("ssh", op, sid(session), ...))
  if r[1] == nil and r[2] ~= nil then error(r[2], 0) end
  return unpack(r, 1, r.n)
end
function libssh2.session_open(host, port)
  port = tonumber(type(port) == "table" and port.number or port)
  if not port then error("bad argument #2 to 'session_open' (number expected)", 2) end
  local id, err, why = P("ssh_open", tostring(addr_of(host)), port, SSH.timeout or 30000)
  if not id then
    if why and OPT.debugging and OPT.debugging > 0 then prim("log", "stdout", "NSE: libssh2 handshake: " .. tostring(why)) end
    error(err, 0)
  end
  return setmetatable({ id = id }, SSH)
end
function libssh2.hostkey_hash(session, algo) return ssh("hostkey_hash", session, algo or "sha1") end
function libssh2.set_timeout(session, ms) ssh("set_timeout", session, tonumber(ms)) end
function libssh2.userauth_list(session, username)
  local r, err = P("ssh", "userauth_list", sid(session), tostring(username))
  if r == nil then error("userauth_list: " .. tostring(err), 0) end
  return r
end
function libssh2.userauth_password(session, username, password)
  local ok = P("ssh", "userauth_password", sid(session), tostring(username), tostring(password))
  return ok == true
end
function libssh2.publickey_canauth(session, username, key)
  if type(key) ~= "string" then error("Invalid public key", 0) end
  local r, err = P("ssh", "publickey_canauth", sid(session), tostring(username), key)
  if r == nil then error("Invalid Publickey", 0) end
  return r
end
function libssh2.read_publickey(file)
  local f = ROOT.io.open(tostring(file))
  if not f then error("Error reading file", 0) end
  local text = f:read("a") or ""
  local b64 = text:match("^[^%s]*%s+([^%s]+)")
  return loaded.base64 and loaded.base64.dec(b64 or "") or ROOT.require("base64").dec(b64 or "")
end
-- The private key file is read through the sandbox (data directories only), as any file.
function libssh2.userauth_publickey(session, username, privatekey_file, passphrase)
  local f, ferr = ROOT.io.open(tostring(privatekey_file))
  if not f then
    if OPT.debugging and OPT.debugging > 0 then prim("log", "stdout", "NSE: libssh2: " .. tostring(ferr)) end
    return false
  end
  local text = f:read("a")
  local ok, err = P("ssh", "userauth_publickey", sid(session), tostring(username), text, passphrase and tostring(passphrase) or "")
  if ok == nil and OPT.debugging and OPT.debugging > 0 then prim("log", "stdout", "NSE: libssh2: " .. tostring(err)) end
  return ok == true
end
function libssh2.session_close(session)
  if getmetatable(session) == SSH and session.id then
    local id = session.id
    session.id = nil
    P("ssh", "session_close", id)
  end
end
local CH = { __name = "ssh2 channel" }
CH.__index = CH
function libssh2.open_channel(session)
  local id, err = P("ssh", "open_channel", sid(session))
  if id == nil then error(err, 0) end
  return setmetatable({ session = session, id = id }, CH)
end
local function chan(session, ch, op, ...)
  if getmetatable(ch) ~= CH then error("bad argument (ssh2 channel expected)", 3) end
  local r = pack(P("ssh", op, sid(session), ch.id, ...))
  if r[1] == nil and r[2] ~= nil then error(r[2], 0) end
  return unpack(r, 1, r.n)
end
function libssh2.channel_exec(session, ch, cmd) return chan(session, ch, "channel_exec", tostring(cmd)) end
function libssh2.channel_write(session, ch, data) return chan(session, ch, "channel_write", tostring(data)) end
function libssh2.channel_send_eof(session, ch) return chan(session, ch, "channel_send_eof") end
function libssh2.channel_read(session, ch) return chan(session, ch, "channel_read") end
function libssh2.channel_read_stderr(session, ch) return chan(session, ch, "channel_read_stderr") end
function libssh2.channel_close(session, ch) return chan(session, ch, "channel_close") end
function libssh2.channel_eof(ch)
  if getmetatable(ch) ~= CH then error("bad argument #1 (ssh2 channel expected)", 2) end
  return chan(ch.session, ch, "channel_eof")
end
`;
