-- wrk script: GET /items with the Host header rotating over t0001..tNNNN.
-- TENANTS (default 100) sets how many tenants; each wrk thread starts at a
-- different offset so that connections spread over all tenants.
-- TENANT_WIDTH (default 4) sets the digits of the zero-padded number
-- (5: t00001..t10000, for more than 9,999 tenants).
local tenants = tonumber(os.getenv("TENANTS") or "100")
local host_format = "t%0" .. tonumber(os.getenv("TENANT_WIDTH") or "4") .. "d.localhost"
local counter = 0

function setup(thread)
  thread:set("offset", math.random(0, tenants - 1))
end

function request()
  counter = counter + 1
  local n = ((counter + (offset or 0)) % tenants) + 1
  return wrk.format("GET", "/items", { ["Host"] = string.format(host_format, n) })
end

function response(status, headers, body)
  if status ~= 200 then
    wrk.thread:stop()
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
