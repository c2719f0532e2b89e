-- wrk script: GET /items for ever-new unknown tenants, at full speed: random
-- subdomains (t<random>.localhost), random custom-domain hosts
-- (<random>.flood.example) and random path ids (/t/<random>/items), in turn.
-- Answers are expected to be 404 (no such tenant) or 404 TenantRequired; any
-- 5xx is counted and printed at the end.
local counter = 0
errors = 0
local threads = {}

function setup(thread)
  thread:set("seed", math.random(1, 1000000000))
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(seed or os.time())
end

local function token()
  return string.format("%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
end

function request()
  counter = counter + 1
  local kind = counter % 3
  if kind == 0 then
    return wrk.format("GET", "/items", { ["Host"] = "f" .. token() .. ".localhost" })
  elseif kind == 1 then
    return wrk.format("GET", "/items", { ["Host"] = token() .. ".flood.example" })
  else
    return wrk.format("GET", "/t/f" .. token() .. "/items", { ["Host"] = "localhost" })
  end
end

function response(status, headers, body)
  if status >= 500 then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("errors") or 0)
  end
  io.stderr:write(string.format("flood: %d requests, %d server errors\n", summary.requests, total))
end
