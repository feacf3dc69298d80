-- wrk script of bench/gateways: POSTs one GraphQL request body and counts the answers that are not right.
--   wrk ... -s wrk.lua URL -- BODY_FILE [EXPECTED_BYTES] [TOKEN_PREFIX]
-- With TOKEN_PREFIX every request carries its own `Authorization: Bearer TOKEN_PREFIX-<thread>-<counter>` (the
-- unique-credentials workload: a gateway forwarding it to the subgraphs cannot share one subgraph fetch between
-- two requests; a prefix of its own per run keeps the values of two runs apart).
-- Counts per thread, summed in done(): non-200 statuses, bodies with an "errors" entry, and (when
-- EXPECTED_BYTES > 0) 200 bodies of another size than the checked answer. done() prints one JSON line
-- starting with "BENCH_RESULT ".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  local file = assert(io.open(args[1], "rb"), "cannot open the body file " .. tostring(args[1]))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  expected_bytes = tonumber(args[2] or "0") or 0
  unique = (args[3] or "") ~= ""
  counter = 0
  token_prefix = "Bearer " .. (args[3] or "") .. "-" .. tostring(thread_id or 0) .. "-"
  non_200 = 0
  graphql_errors = 0
  wrong_size = 0
end

function request()
  if not unique then
    return wrk.request() -- wrk's own, formatted once
  end
  counter = counter + 1
  wrk.headers["Authorization"] = token_prefix .. counter
  return wrk.format()
end

function response(status, headers, body)
  if status ~= 200 then
    non_200 = non_200 + 1
  elseif string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  elseif expected_bytes > 0 and #body ~= expected_bytes then
    wrong_size = wrong_size + 1
  end
end

function done(summary, latency, requests)
  local counts = { non_200 = 0, graphql_errors = 0, wrong_size = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(counts) do
      counts[name] = counts[name] + (thread:get(name) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "socket_errors": %d, "timeouts": %d, "non_200": %d, "graphql_errors": %d, "wrong_size": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write, e.timeout,
    counts.non_200, counts.graphql_errors, counts.wrong_size))
end
