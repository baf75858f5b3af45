//! Throughput and latency with wrk: the Lua script that sends the request (with
//! cookies in turn), reading wrk's result, and checking a URL's answer before it
//! is loaded.

use super::Error;
use serde::Serialize;
use std::path::Path;
use std::process::Command;

/// One wrk run: throughput and latency percentiles (from wrk's own histogram).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Load {
    pub label: String,
    pub url: String,
    pub connections: u32,
    pub seconds: u32,
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Non-2xx/3xx answers plus socket errors: must be 0 for the figures to count.
    pub errors: u64,
}

/// What wrk sends: method, form body, and cookies used in turn (one per request).
#[derive(Clone, Debug, Default)]
pub struct WrkRequest {
    pub post: bool,
    pub cookies: Vec<String>,
    pub origin: Option<String>,
}

fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

fn wrk_script(req: &WrkRequest) -> String {
    let cookies: Vec<String> = req.cookies.iter().map(|c| lua_string(c)).collect();
    format!(
        r#"local cookies = {{{cookies}}}
local method = {method}
local origin = {origin}
local counter = 0
request = function()
  counter = counter + 1
  local headers = {{}}
  if #cookies > 0 then headers["Cookie"] = cookies[(counter % #cookies) + 1] end
  if origin ~= "" then headers["Origin"] = origin end
  local body = nil
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = ""
  end
  return wrk.format(method, nil, headers, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0), latency.max, 0))
end
"#,
        cookies = cookies.join(", "),
        method = lua_string(if req.post { "POST" } else { "GET" }),
        origin = lua_string(req.origin.as_deref().unwrap_or("")),
    )
}

/// Runs wrk for `seconds` with `connections` connections on one thread.
pub fn wrk(
    label: &str,
    url: &str,
    connections: u32,
    seconds: u32,
    req: &WrkRequest,
    work_dir: &Path,
) -> Result<Load, Error> {
    let script = work_dir.join("wrk.lua");
    std::fs::write(&script, wrk_script(req))?;
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "10s", "-s"])
        .arg(&script)
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("BENCH_RESULT ")).ok_or_else(|| {
        format!("wrk printed no result for {url}:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    })?;
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    if v.len() < 8 {
        return Err(format!("unreadable wrk result: {line}").into());
    }
    let secs = v[1] / 1e6;
    Ok(Load {
        label: label.into(),
        url: url.into(),
        connections,
        seconds,
        requests: v[0] as u64,
        rps: if secs > 0.0 { v[0] / secs } else { 0.0 },
        p50_ms: v[4] / 1000.0,
        p90_ms: v[5] / 1000.0,
        p99_ms: v[6] / 1000.0,
        max_ms: v[7] / 1000.0,
        errors: (v[2] + v[3]) as u64,
    })
}

/// GETs (or POSTs an empty form to) `url` and checks the answer before it is loaded with wrk.
pub async fn check(
    client: &reqwest::Client,
    url: &str,
    req: &WrkRequest,
    must_contain: &str,
) -> Result<usize, Error> {
    let mut r = if req.post {
        client.post(url).header("content-type", "application/x-www-form-urlencoded").body("")
    } else {
        client.get(url)
    };
    if let Some(c) = req.cookies.first() {
        r = r.header("Cookie", c);
    }
    if let Some(o) = &req.origin {
        r = r.header("Origin", o);
    }
    let res = r.send().await?;
    let status = res.status();
    let body = res.text().await?;
    if !status.is_success() || !body.contains(must_contain) {
        return Err(format!(
            "{url} answered {status} without {must_contain:?}: {}",
            body.chars().take(300).collect::<String>()
        )
        .into());
    }
    Ok(body.len())
}
