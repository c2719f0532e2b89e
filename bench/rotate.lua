-- wrk script: GET /items with the Host header rotating over t0001..tNNNN.
-- TENANTS (default 100) sets how many tenants; each wrk thread starts at a
-- different offset so that connections spread over all tenants.
local tenants = tonumber(os.getenv("TENANTS") or "100")
local counter = 0

function setup(thread)
  thread:set("offset", math.random(0, tenants - 1))
end

function request()
  counter = counter + 1
  local n = ((counter + (offset or 0)) % tenants) + 1
  return wrk.format("GET", "/items", { ["Host"] = string.format("t%04d.localhost", n) })
end

function response(status, headers, body)
  if status ~= 200 then
    wrk.thread:stop()
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
