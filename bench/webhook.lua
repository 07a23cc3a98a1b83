-- wrk script for bench/webhook.py: every request is a distinct line of a file the bench wrote.
--
--   wrk -t T -c C -d S --latency -s bench/webhook.lua URL -- REQUESTS_FILE T
--
-- Each line of REQUESTS_FILE is "<X-Hub-Signature-256 value>\t<JSON body>" (an empty signature
-- sends no header: the bare view). Thread k of T sends lines k, k+T, k+2T, ... once each, in order;
-- a thread that runs out stops (and says so in the summary) rather than send a line twice.
-- done() prints one line "WRK_JSON {...}" with exact figures for the bench to parse.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local path, count = args[1], tonumber(args[2])
   requests, sent, exhausted = {}, 0, 0
   local n = 0
   for line in io.lines(path) do
      if n % count == id then
         local sig, body = line:match("^([^\t]*)\t(.*)$")
         local headers = { ["Content-Type"] = "application/json" }
         if sig ~= "" then
            headers["X-Hub-Signature-256"] = sig
         end
         requests[#requests + 1] = wrk.format("POST", nil, headers, body)
      end
      n = n + 1
   end
end

function request()
   sent = sent + 1
   if sent > #requests then
      -- Out of distinct requests: stop this thread. wrk still sends what we return here, so make it
      -- a GET without a verify token (answered 403, stored nowhere) and count it.
      exhausted = exhausted + 1
      wrk.thread:stop()
      return wrk.format("GET", nil, nil, nil)
   end
   return requests[sent]
end

function done(summary, latency, _)
   local out_of_requests = 0
   for _, thread in ipairs(threads) do
      out_of_requests = out_of_requests + (thread:get("exhausted") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
         .. '"max_us": %d, "non_2xx_3xx": %d, "connect_errors": %d, "read_errors": %d, '
         .. '"write_errors": %d, "timeouts": %d, "out_of_requests": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout,
      out_of_requests))
end
