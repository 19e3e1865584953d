-- wrk script: POST /api/v1/identify with real photos, cycling through the list given after
-- `--` (a file with one path per line). Prints one machine-readable RESULT line at the end.
local boundary = "insectid-bench-boundary"
local bodies = {}
local next_body = 1
local failures = 0

function init(args)
  local list = assert(io.open(args[1], "r"))
  for path in list:lines() do
    local f = assert(io.open(path, "rb"))
    local data = f:read("*a")
    f:close()
    bodies[#bodies + 1] = "--" .. boundary .. "\r\n" ..
      "Content-Disposition: form-data; name=\"image\"; filename=\"photo.jpg\"\r\n" ..
      "Content-Type: image/jpeg\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
  end
  list:close()
  next_body = math.random(#bodies)
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/api/v1/identify",
    { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }, bodies[next_body])
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "RESULT {\"requests\": %d, \"seconds\": %.3f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"errors\": %d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
