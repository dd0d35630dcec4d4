-- wrk script: GET /health; prints the same summary line as upsert.lua.
function done(summary, latency, requests)
  io.write(string.format("LYNX_RESULT requests=%d errors_status=%d errors_other=%d seconds=%.3f p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99)))
end
