-- wrk script: POST /vectors with single 384-d records (dimension from env LYNX_BENCH_DIM), fresh ids.
-- Each wrk thread draws ids from its own range so no two requests share an id. LYNX_BENCH_ID_OFFSET (default 0)
-- shifts every id, so successive runs against one server can insert fresh ids instead of replacing.
local id_offset = tonumber(os.getenv("LYNX_BENCH_ID_OFFSET") or "0")
local dim = tonumber(os.getenv("LYNX_BENCH_DIM") or "384")
local query = os.getenv("LYNX_BENCH_QUERY") or ""
local heads = {}  -- request line + headers + '{"id":', per pooled vector (Content-Length fixed: see below)
local tails = {}  -- ',"vector":[...]}', per pooled vector
local counter = 0
-- A global, not a local: thread:set() in setup() assigns the thread's global, which a local would shadow
-- (every thread then drew the same ids and half the "inserts" replaced records).
thread_base = 0
local threads_created = 0

function setup(thread)
  threads_created = threads_created + 1
  thread:set("thread_base", id_offset + threads_created * 1000000000)
end

-- The id is written right-aligned in a fixed 20-character field (JSON allows the leading spaces), so every
-- body of a pooled vector has the same length and each request is one concatenation of three strings:
-- the client then costs little next to the server it measures.
local ID_WIDTH = 20

function init(args)
  math.randomseed(thread_base)
  for p = 1, 64 do
    local parts = {}
    for i = 1, dim do parts[i] = string.format("%.6f", math.random() * 2 - 1) end
    local tail = ',"vector":[' .. table.concat(parts, ",") .. ']}'
    local length = #'{"id":' + ID_WIDTH + #tail
    heads[p] = "POST /vectors" .. query .. " HTTP/1.1\r\nHost: lynx\r\nContent-Type: application/json\r\n"
      .. "Content-Length: " .. length .. "\r\n\r\n" .. '{"id":'
    tails[p] = tail
  end
end

function request()
  counter = counter + 1
  local p = (counter % 64) + 1
  return heads[p] .. string.format("%20d", thread_base + counter) .. tails[p]
end

function done(summary, latency, requests)
  io.write(string.format("LYNX_RESULT requests=%d errors_status=%d errors_other=%d seconds=%.3f p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99)))
end
