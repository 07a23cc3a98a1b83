-- wrk script for bench/webhook.py: every request is a distinct line of a file the bench wrote.
--
--   wrk -t T -c C -d S --latency -s bench/webhook.lua URL -- REQUESTS_FILE T [exact]
--
-- Each line of REQUESTS_FILE is "<X-Hub-Signature-256 value>\t<JSON body>" (an empty signature
-- sends no header: the bare view). Thread k of T sends lines k, k+T, k+2T, ... once each, in order;
-- a thread that runs out stops (and says so in the summary) rather than send a line twice.
-- With "exact", running out is how the round ends: every line is sent once and the thread stops only
-- when each has been answered, or 10 s after the last was sent (a connection that is done meanwhile
-- sends a GET without a verify token, answered 403 "verification failed", which is not counted). Every response's status is
-- counted either way (response() below), so the round can say how many answers were not 200.
-- done() prints one line "WRK_JSON {...}" with exact figures for the bench to parse.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local path, count = args[1], tonumber(args[2])
   exact = args[3] == "exact"
   -- wrk calls request() once before the run to check the script, and never sends that request;
   -- in exact mode that call gets a filler, so every line is really sent.
   primed = not exact
   done_file = path .. ".done"
   requests, sent, exhausted = {}, 0, 0
   answered, ok, fillers, other = 0, 0, 0, ""
   others = {}
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

local function finish()
   -- wrk's main thread sleeps for the whole -d duration whatever the threads do: the file tells the
   -- bench to interrupt it (SIGINT), which ends the run and prints the summary.
   wrk.thread:stop()
   io.open(done_file, "w"):close()
end

function request()
   if not primed then
      primed = true
      return wrk.format("GET", nil, nil, nil)
   end
   sent = sent + 1
   if sent > #requests then
      -- Out of distinct requests: stop this thread. wrk still sends what we return here, so make it
      -- a GET without a verify token (answered 403, stored nowhere) and count it.
      exhausted = exhausted + 1
      exhausted_at = exhausted_at or os.time()
      if not exact then
         wrk.thread:stop()
      end
      return wrk.format("GET", nil, nil, nil)
   end
   return requests[sent]
end

function response(status, headers, body)
   if status == 403 and body == "verification failed" then
      fillers = fillers + 1
      -- A request whose connection broke is never answered (wrk reconnects with the next one): give
      -- the stragglers 10 s, then stop; the bench reports what was not answered.
      if exact and os.time() - exhausted_at >= 10 then
         finish()
      end
      return
   end
   answered = answered + 1
   if status == 200 then
      ok = ok + 1
   else
      others[status] = (others[status] or 0) + 1
      other = ""
      for code, n in pairs(others) do
         other = other .. code .. ":" .. n .. " "
      end
   end
   if exact and answered >= #requests then
      finish()
   end
end

function done(summary, latency, _)
   local out_of_requests, answered, ok, fillers, other = 0, 0, 0, 0, ""
   for _, thread in ipairs(threads) do
      out_of_requests = out_of_requests + (thread:get("exhausted") or 0)
      answered = answered + (thread:get("answered") or 0)
      ok = ok + (thread:get("ok") or 0)
      fillers = fillers + (thread:get("fillers") or 0)
      other = other .. (thread:get("other") or "")
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
         .. '"max_us": %d, "non_2xx_3xx": %d, "connect_errors": %d, "read_errors": %d, '
         .. '"write_errors": %d, "timeouts": %d, "out_of_requests": %d, "answered": %d, "ok": %d, '
         .. '"fillers": %d, "other_statuses": "%s"}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout,
      out_of_requests, answered, ok, fillers, other))
end
