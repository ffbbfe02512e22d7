/**
 * An LPeg for NSE, written in Lua for prtip (LPeg itself is a C module). It implements the
 * documented LPeg 1.0 interface the nselib libraries use — P, S, R, V, B, locale, C, Cc, Cp,
 * Cs, Ct, Cg (named and anonymous), Cb, Cf, Cmt, Carg, grammars, and the operators
 * * + - ^ / unary - and # — as a backtracking matcher over closures. It is slower than the C
 * library, which is fine for headers, JSON documents and banners.
 */
export const LPEG_LUA = String.raw`
local lpeg = {}
local Pattern = {}
Pattern.__index = Pattern
local function is_pattern(x) return getmetatable(x) == Pattern end
local function mk(compile) return setmetatable({ compile = compile }, Pattern) end
local P

-- A capture entry: { vals = {...}, s = start, e = end, name = group name or nil }
local function values_of(list, from)
  local out = {}
  for k = from or 1, #list do
    local c = list[k]
    if c.name == nil then
      for _, v in ipairs(c.vals) do out[#out + 1] = v end
      if c.n then for x = #c.vals + 1, c.n do out[#out + 1] = nil end end
    end
  end
  return out
end
local function truncate(list, n) for k = #list, n + 1, -1 do list[k] = nil end end

local function literal(str)
  local len = #str
  return mk(function() return function(s, i) if s:sub(i, i + len - 1) == str then return i + len end end end)
end

P = function(v)
  if is_pattern(v) then return v end
  local t = type(v)
  if t == "string" then return literal(v) end
  if t == "number" then
    if v >= 0 then return mk(function() return function(s, i) if i + v - 1 <= #s then return i + v end end end) end
    return mk(function() return function(s, i) if #s - i + 1 < -v then return i end end end)
  end
  if t == "boolean" then return mk(function() return function(_, i) if v then return i end end end) end
  if t == "function" then
    return mk(function() return function(s, i, caps, extra)
      local r = table.pack(v(s, i, table.unpack(extra or {})))
      if not r[1] then return nil end
      local j = r[1] == true and i or r[1]
      if #r > 1 or r.n > 1 then caps[#caps + 1] = { vals = { table.unpack(r, 2, r.n) }, s = i, e = j } end
      return j
    end end)
  end
  if t == "table" then
    -- a grammar: rule names to patterns; [1] names (or is) the initial rule
    return mk(function(outer)
      local rules = {}
      local ctx = { rules = rules }
      for k, p in pairs(v) do if k ~= 1 then rules[k] = false end end
      for k, p in pairs(v) do if k ~= 1 then rules[k] = P(p).compile(ctx) end end
      local first = v[1]
      local start
      if type(first) == "string" or type(first) == "number" and rules[first] ~= nil then start = rules[first]
      else
        -- an initial rule given as a pattern is rule 1: V(1) refers to it (lpeg-utility's anywhere())
        rules[1] = false
        start = P(first).compile(ctx)
        rules[1] = start
      end
      if not start then error("grammar has no initial rule", 2) end
      return start
    end)
  end
  error("lpeg: cannot make a pattern from a " .. t, 2)
end
lpeg.P = P

function lpeg.V(name)
  return mk(function(ctx)
    if not ctx or not ctx.rules or ctx.rules[name] == nil then error("rule '" .. tostring(name) .. "' undefined in given grammar", 0) end
    return function(s, i, caps, extra) return ctx.rules[name](s, i, caps, extra) end
  end)
end

function lpeg.S(set)
  local chars = {}
  for k = 1, #set do chars[set:sub(k, k)] = true end
  return mk(function() return function(s, i) local c = s:sub(i, i) if c ~= "" and chars[c] then return i + 1 end end end)
end

function lpeg.R(...)
  local ranges = { ... }
  return mk(function() return function(s, i)
    local b = s:byte(i)
    if not b then return nil end
    for _, r in ipairs(ranges) do
      if b >= r:byte(1) and b <= r:byte(2) then return i + 1 end
    end
  end end)
end

Pattern.__mul = function(a, b)
  a, b = P(a), P(b)
  return mk(function(ctx)
    local ma, mb = a.compile(ctx), b.compile(ctx)
    return function(s, i, caps, extra)
      local n = #caps
      local j = ma(s, i, caps, extra)
      if not j then return nil end
      local k = mb(s, j, caps, extra)
      if not k then truncate(caps, n) return nil end
      return k
    end
  end)
end
Pattern.__add = function(a, b)
  a, b = P(a), P(b)
  return mk(function(ctx)
    local ma, mb = a.compile(ctx), b.compile(ctx)
    return function(s, i, caps, extra)
      local n = #caps
      local j = ma(s, i, caps, extra)
      if j then return j end
      truncate(caps, n)
      return mb(s, i, caps, extra)
    end
  end)
end
Pattern.__sub = function(a, b)
  a, b = P(a), P(b)
  return mk(function(ctx)
    local ma, mb = a.compile(ctx), b.compile(ctx)
    return function(s, i, caps, extra)
      if mb(s, i, {}, extra) then return nil end
      return ma(s, i, caps, extra)
    end
  end)
end
Pattern.__unm = function(a)
  a = P(a)
  return mk(function(ctx)
    local ma = a.compile(ctx)
    return function(s, i, _, extra) if ma(s, i, {}, extra) then return nil end return i end
  end)
end
Pattern.__len = function(a)
  a = P(a)
  return mk(function(ctx)
    local ma = a.compile(ctx)
    return function(s, i, _, extra) if ma(s, i, {}, extra) then return i end end
  end)
end
Pattern.__pow = function(a, n)
  a = P(a)
  return mk(function(ctx)
    local ma = a.compile(ctx)
    if n >= 0 then
      return function(s, i, caps, extra)
        local count, base = 0, #caps
        while true do
          local n0 = #caps
          local j = ma(s, i, caps, extra)
          if not j or j == i and count >= n then truncate(caps, n0) break end
          i, count = j, count + 1
        end
        if count < n then truncate(caps, base) return nil end
        return i
      end
    end
    return function(s, i, caps, extra)
      for _ = 1, -n do
        local n0 = #caps
        local j = ma(s, i, caps, extra)
        if not j then truncate(caps, n0) break end
        i = j
      end
      return i
    end
  end)
end

function lpeg.B(p)
  p = P(p)
  return mk(function(ctx)
    local mp = p.compile(ctx)
    return function(s, i, _, extra)
      for k = i - 1, 1, -1 do if mp(s, k, {}, extra) == i then return i end end
      if i == 1 and mp(s, 1, {}, extra) == 1 then return i end
    end
  end)
end

-- Runs p collecting its captures apart; calls make(sub, s, i, j) to turn them into one entry.
local function capture(p, make)
  p = P(p)
  return mk(function(ctx)
    local mp = p.compile(ctx)
    return function(s, i, caps, extra)
      local sub = {}
      local j = mp(s, i, sub, extra)
      if not j then return nil end
      local entry = make(sub, s, i, j, extra)
      if entry then entry.s, entry.e = i, j caps[#caps + 1] = entry end
      return j
    end
  end)
end

function lpeg.C(p)
  return capture(p, function(sub, s, i, j)
    local vals = { s:sub(i, j - 1) }
    for _, v in ipairs(values_of(sub)) do vals[#vals + 1] = v end
    return { vals = vals, inner = sub }
  end)
end
function lpeg.Cc(...)
  local vals = table.pack(...)
  return mk(function() return function(_, i, caps) caps[#caps + 1] = { vals = { table.unpack(vals, 1, vals.n) }, n = vals.n, s = i, e = i } return i end end)
end
function lpeg.Cp()
  return mk(function() return function(_, i, caps) caps[#caps + 1] = { vals = { i }, s = i, e = i } return i end end)
end
function lpeg.Carg(n)
  return mk(function() return function(_, i, caps, extra) caps[#caps + 1] = { vals = { (extra or {})[n] }, n = 1, s = i, e = i } return i end end)
end
function lpeg.Cg(p, name)
  return capture(p, function(sub, s, i, j)
    local vals = values_of(sub)
    if #sub == 0 then vals = { s:sub(i, j - 1) } end
    return { vals = vals, name = name }
  end)
end
-- Named groups seen so far in one match, for back-references.
local NAMED
function lpeg.Cb(name)
  return mk(function() return function(_, i, caps)
    for k = #caps, 1, -1 do
      if caps[k].name == name then caps[#caps + 1] = { vals = caps[k].vals, s = i, e = i } return i end
    end
    for k = #NAMED, 1, -1 do
      if NAMED[k].name == name then caps[#caps + 1] = { vals = NAMED[k].vals, s = i, e = i } return i end
    end
    error("back reference '" .. tostring(name) .. "' not found", 0)
  end end)
end
function lpeg.Ct(p)
  return capture(p, function(sub)
    local t = {}
    for _, c in ipairs(sub) do
      if c.name ~= nil then t[c.name] = c.vals[1]
      else for _, v in ipairs(c.vals) do t[#t + 1] = v end end
    end
    return { vals = { t } }
  end)
end
function lpeg.Cs(p)
  return capture(p, function(sub, s, i, j)
    local out, pos = {}, i
    for _, c in ipairs(sub) do
      if c.name == nil then
        out[#out + 1] = s:sub(pos, c.s - 1)
        local v = c.vals[1]
        if v ~= nil then out[#out + 1] = tostring(v) else out[#out + 1] = s:sub(c.s, c.e - 1) end
        pos = c.e
      end
    end
    out[#out + 1] = s:sub(pos, j - 1)
    return { vals = { table.concat(out) } }
  end)
end
function lpeg.Cf(p, f)
  return capture(p, function(sub)
    local acc
    local first = true
    for _, c in ipairs(sub) do
      if c.name == nil then
        if first then acc = c.vals[1] first = false
        else acc = f(acc, table.unpack(c.vals, 1, c.n or #c.vals)) end
      end
    end
    return { vals = { acc } }
  end)
end
function lpeg.Cmt(p, f)
  p = P(p)
  return mk(function(ctx)
    local mp = p.compile(ctx)
    return function(s, i, caps, extra)
      local sub = {}
      local j = mp(s, i, sub, extra)
      if not j then return nil end
      local vals = values_of(sub)
      if #sub == 0 then vals = { s:sub(i, j - 1) } end
      local r = table.pack(f(s, j, table.unpack(vals)))
      if not r[1] then return nil end
      local k = r[1] == true and j or r[1]
      if type(k) ~= "number" or k < j or k > #s + 1 then error("invalid position returned by match-time capture", 0) end
      if r.n > 1 then caps[#caps + 1] = { vals = { table.unpack(r, 2, r.n) }, n = r.n - 1, s = i, e = k } end
      return k
    end
  end)
end

Pattern.__div = function(p, x)
  local tx = type(x)
  if tx == "string" then
    return capture(p, function(sub, s, i, j)
      local vals = values_of(sub)
      local whole = s:sub(i, j - 1)
      local out = x:gsub("%%(.)", function(d)
        if d == "0" then return whole end
        local n = tonumber(d)
        if not n then return d end
        if n == 1 and #vals == 0 then return whole end
        local v = vals[n]
        if v == nil then error("no capture '" .. d .. "'", 0) end
        return tostring(v)
      end)
      return { vals = { out } }
    end)
  elseif tx == "number" then
    return capture(p, function(sub)
      local vals = values_of(sub)
      if x == 0 then return { vals = {} } end
      return { vals = { vals[x] } }
    end)
  elseif tx == "table" then
    return capture(p, function(sub, s, i, j)
      local vals = values_of(sub)
      local key = vals[1]
      if key == nil then key = s:sub(i, j - 1) end
      local v = x[key]
      if v == nil then return { vals = {} } end
      return { vals = { v } }
    end)
  elseif tx == "function" then
    return capture(p, function(sub, s, i, j)
      local vals = values_of(sub)
      if #sub == 0 then vals = { s:sub(i, j - 1) } end
      local r = table.pack(x(table.unpack(vals)))
      return { vals = { table.unpack(r, 1, r.n) }, n = r.n }
    end)
  end
  error("lpeg: invalid replacement value", 2)
end

function Pattern:match(s, init, ...)
  s = tostring(s)
  init = init or 1
  if init < 0 then init = #s + init + 1 end
  if init < 1 then init = 1 end
  local matcher = rawget(self, "_m")
  if not matcher then matcher = self.compile(nil) rawset(self, "_m", matcher) end
  local caps = {}
  local saved = NAMED
  NAMED = caps
  local ok, j = pcall(matcher, s, init, caps, { ... })
  NAMED = saved
  if not ok then error(j, 2) end
  if not j then return nil end
  local vals = values_of(caps)
  if #vals == 0 and #caps == 0 then return j end
  local n = 0
  for _, c in ipairs(caps) do if c.name == nil then n = n + (c.n or #c.vals) end end
  if n == 0 then return j end
  return table.unpack(vals, 1, n)
end
function lpeg.match(p, s, init, ...) return P(p):match(s, init, ...) end
function lpeg.type(x) if is_pattern(x) then return "pattern" end return nil end
function lpeg.version() return "1.0 (prtip, in Lua)" end
function lpeg.setmaxstack() end
function lpeg.locale(t)
  t = t or {}
  local function class(f)
    local set = {}
    for b = 0, 255 do if f(string.char(b)) then set[#set + 1] = string.char(b) end end
    return lpeg.S(table.concat(set))
  end
  t.alnum = class(function(c) return c:match("%w") end)
  t.alpha = class(function(c) return c:match("%a") end)
  t.cntrl = class(function(c) return c:match("%c") end)
  t.digit = class(function(c) return c:match("%d") end)
  t.graph = class(function(c) return c:match("%g") end)
  t.lower = class(function(c) return c:match("%l") end)
  t.print = class(function(c) return c:match("[%g ]") end)
  t.punct = class(function(c) return c:match("%p") end)
  t.space = class(function(c) return c:match("%s") end)
  t.upper = class(function(c) return c:match("%u") end)
  t.xdigit = class(function(c) return c:match("%x") end)
  return t
end
return lpeg
`;
