-- wrk script of benchmarks/soak.py, run with -t2: thread 1 sends only valid requests, thread 2
-- only invalid ones, so every response is known to answer one kind without matching request ids
-- (wrk cannot tell which request a response belongs to). Each thread paces itself to its share of
-- the offered rate on a fixed schedule (open loop while the server keeps up; once it falls behind,
-- the thread's connections send back to back). done() prints one line per kind:
--   SOAK {"kind": "valid", "sent": N, "2xx": N, "4xx": N, "5xx": N, "other": N}
-- Arguments after `--`: valid_rate invalid_rate valid_body_file invalid_body_file...

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk_id, soak_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("soak_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local threads = {}
local KINDS = { "valid", "invalid" }

function setup(thread)
  local kind = KINDS[#threads + 1]
  assert(kind, "soak.lua runs with exactly two threads (-t2)")
  thread:set("kind", kind)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  local rate
  if kind == "valid" then
    rate = tonumber(args[1])
    bodies[1] = read(args[3])
  else
    rate = tonumber(args[2])
    for i = 4, #args do bodies[#bodies + 1] = read(args[i]) end
  end
  interval_ms = 1000 / rate
  next_at = nil
  nth = 0
  sent, s2xx, s4xx, s5xx, sother = 0, 0, 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function delay()
  local t = now_ms()
  next_at = (next_at or t) + interval_ms
  local wait = next_at - t
  return wait > 0 and wait or 0
end

function request()
  nth = nth % #bodies + 1
  sent = sent + 1
  return wrk.format(nil, nil, nil, bodies[nth])
end

function response(status, headers, body)
  if status >= 200 and status < 300 then s2xx = s2xx + 1
  elseif status >= 400 and status < 500 then s4xx = s4xx + 1
  elseif status >= 500 then s5xx = s5xx + 1
  else sother = sother + 1 end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format('SOAK {"kind": "%s", "sent": %d, "2xx": %d, "4xx": %d, "5xx": %d, "other": %d}\n',
      t:get("kind"), t:get("sent"), t:get("s2xx"), t:get("s4xx"), t:get("s5xx"), t:get("sother")))
  end
end
