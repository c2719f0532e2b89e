-- wrk script: GET /items with a fixed Host header (the baseline has no tenants).
function request()
  return wrk.format("GET", "/items", { ["Host"] = "localhost" })
end

function response(status, headers, body)
  if status ~= 200 then
    wrk.thread:stop()
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
