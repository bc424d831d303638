-- wrk script for the webhook intake figure: every request is a distinct
-- Instantly event (start time, thread id and counter in the timestamp and
-- email id), so none is dropped as a duplicate, for one of 1,000 leads.
--   LEADGEN_INSTANTLY_WEBHOOK_SECRET=s3cret leadgen serve --workers 0 &
--   wrk -t2 -c16 -d20s -s docs/bench/instantly-webhook.lua http://127.0.0.1:8080
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  counter = 0
  nonce = os.time()
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"timestamp":"2026-12-01T10:00:00.%d-%d-%d","event_type":"email_opened","workspace":"ws",' ..
    '"campaign_id":"cmp-figure","campaign_name":"Figure","lead_email":"p%d@x%d.example",' ..
    '"step":1,"email_id":"t%d-%d"}',
    nonce, tid, counter, counter % 1000, counter % 1000, tid, counter)
  return wrk.format("POST", "/integrations/instantly/webhook",
    { ["Content-Type"] = "application/json", ["X-Leadgen-Webhook-Secret"] = "s3cret" }, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests %d, errors %d, p50 %.1f ms, p99 %.1f ms\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
