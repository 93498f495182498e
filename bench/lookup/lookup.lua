-- wrk script: e-mail lookups that vary the address across existing members.
-- BENCH_EMAILS: file with one URL-encoded address per line; BENCH_TOKEN: API bearer token;
-- BENCH_COOKIE: a logged-in staff session's Cookie header; BENCH_EXTRA: appended to the query string;
-- BENCH_PATH: another path to send the same requests to (default /lookup/members).
local emails = {}
local headers = {["Accept"] = "application/json", ["User-Agent"] = "mallbridge-bench"}  -- as run.py logs in
local token = os.getenv("BENCH_TOKEN")
local extra = os.getenv("BENCH_EXTRA") or ""  -- e.g. "&query=1" for the floor app
local cookie = os.getenv("BENCH_COOKIE")
local path = os.getenv("BENCH_PATH") or "/lookup/members"
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
if cookie and cookie ~= "" then headers["Cookie"] = cookie end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_EMAILS")) do emails[#emails + 1] = line end
  -- A different sequence per thread, so threads do not replay each other's addresses.
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

function request()
  local email = emails[math.random(#emails)]
  return wrk.format("GET", path .. "?email=" .. email .. extra, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "errors": %d, "status_errors": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
