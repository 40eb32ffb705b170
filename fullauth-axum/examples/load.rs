//! A small load client for the example service: login and refresh requests
//! per second at concurrency 1 and 16, over loopback only.
//!
//! Start the service with the per-route rate limits off (they cap login at 5
//! a minute per address, as the reference does), then run the client:
//!
//! ```sh
//! FULLAUTH_AUTH_RATE_LIMIT_ENABLED=false cargo run --release -p fullauth-axum --example service
//! cargo run --release -p fullauth-axum --example load -- http://127.0.0.1:8000 [REQUESTS] [SECONDS]
//! ```
//!
//! Each scenario sends at most REQUESTS requests (default 3000) and stops
//! after SECONDS seconds (default 10), whichever comes first. It registers
//! one user, then measures:
//!
//! * `login`: `POST /login` with the right password — each one verifies an
//!   argon2id hash, so it is bound by hashing;
//! * `refresh`: `POST /refresh`, each worker rotating its own session;
//! * `me`: `GET /me`, a token decode plus a user lookup (a baseline);
//! * `hash only`: the password verification alone, in this process, with the
//!   hasher the service uses, so the share of hashing in a login shows.
//!
//! The client refuses any address that is not on the loopback interface.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fullauth_api::PasswordHasher;
use serde_json::{Value, json};

const PREFIX: &str = "/api/v1/auth";
const PASSWORD: &str = "load-client-password-1";

struct Args {
    base: String,
    requests: usize,
    seconds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let base = it
        .next()
        .or_else(|| std::env::var("FULLAUTH_LOAD_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8000".into());
    let requests = match it.next() {
        Some(n) => n
            .parse()
            .map_err(|_| format!("REQUESTS `{n}` is not a number"))?,
        None => 3000,
    };
    let seconds = match it.next() {
        Some(n) => n
            .parse()
            .map_err(|_| format!("SECONDS `{n}` is not a number"))?,
        None => 10,
    };
    let base = base.trim_end_matches('/').to_string();
    check_loopback(&base)?;
    Ok(Args {
        base,
        requests: requests.clamp(1, 100_000),
        seconds: seconds.clamp(1, 600),
    })
}

/// Accepts only `http://` URLs whose host is `localhost`, 127.0.0.0/8 or ::1.
fn check_loopback(base: &str) -> Result<(), String> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{base}`: only http:// URLs on loopback are accepted"))?;
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!(
            "`{host}` is not a loopback address: this client only targets this machine"
        ))
    }
}

/// What one scenario measured.
struct Measure {
    ok: usize,
    failed: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Measure {
    fn line(&self, name: &str, concurrency: usize) -> String {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            if l.is_empty() {
                0.0
            } else {
                let i = ((l.len() as f64 - 1.0) * p).round() as usize;
                l[i.min(l.len() - 1)].as_secs_f64() * 1000.0
            }
        };
        let rate = self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9);
        format!(
            "{name:<10} c={concurrency:<3} {rate:>9.1} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} ok, {} failed, {:.1} s)",
            pct(0.5),
            pct(0.99),
            self.ok,
            self.failed,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs `concurrency` workers that share a budget of `requests` requests and
/// a deadline; each worker calls `step` with its own state.
async fn run<S, F, Fut>(requests: usize, seconds: u64, states: Vec<S>, step: F) -> Measure
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (S, bool)> + Send,
{
    let budget = Arc::new(AtomicUsize::new(requests));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for state in states {
        let budget = budget.clone();
        let step = step.clone();
        tasks.push(tokio::spawn(async move {
            let mut state = state;
            let (mut ok, mut failed, mut lat) = (0usize, 0usize, Vec::new());
            while Instant::now() < deadline
                && budget
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
                    .is_ok()
            {
                let t = Instant::now();
                let (next, success) = step(state).await;
                state = next;
                lat.push(t.elapsed());
                if success {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            (ok, failed, lat)
        }));
    }
    let mut m = Measure {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for t in tasks {
        if let Ok((ok, failed, lat)) = t.await {
            m.ok += ok;
            m.failed += failed;
            m.latencies.extend(lat);
        }
    }
    m.elapsed = start.elapsed();
    m
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<(u16, Value), String> {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

async fn login(client: &reqwest::Client, base: &str, email: &str) -> Result<Value, String> {
    let (status, body) = post(
        client,
        &format!("{base}{PREFIX}/login"),
        &json!({"email": email, "password": PASSWORD}),
    )
    .await?;
    if status == 200 {
        Ok(body)
    } else {
        Err(format!("login answered {status}: {body}"))
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = real_main().await {
        eprintln!("load: {e}");
        std::process::exit(1);
    }
}

async fn real_main() -> Result<(), String> {
    let args = parse_args()?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let base = args.base.clone();
    let email = format!("load-{}@example.com", uuid::Uuid::new_v4().simple());
    let (status, body) = post(
        &client,
        &format!("{base}{PREFIX}/register"),
        &json!({"email": email, "password": PASSWORD}),
    )
    .await?;
    if !(status == 201 || status == 202) {
        return Err(format!("register answered {status}: {body}"));
    }
    // Fails here when the service still has the per-route rate limits on.
    login(&client, &base, &email).await?;

    println!(
        "target {base}; at most {} requests and {} s per scenario",
        args.requests, args.seconds
    );
    for concurrency in [1usize, 16] {
        // Login: each request verifies the password hash.
        let states = vec![(client.clone(), base.clone(), email.clone()); concurrency];
        let m = run(
            args.requests,
            args.seconds,
            states,
            |(c, b, e)| async move {
                let ok = login(&c, &b, &e).await.is_ok();
                ((c, b, e), ok)
            },
        )
        .await;
        println!("{}", m.line("login", concurrency));

        // Refresh: one session per worker, each rotating its own chain.
        let mut states = Vec::new();
        for _ in 0..concurrency {
            let pair = login(&client, &base, &email).await?;
            let refresh = pair["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let access = pair["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            states.push((client.clone(), base.clone(), refresh, access));
        }
        let me_states = states.clone();
        let m = run(
            args.requests,
            args.seconds,
            states,
            |(c, b, r, a)| async move {
                match post(
                    &c,
                    &format!("{b}{PREFIX}/refresh"),
                    &json!({"refresh_token": r}),
                )
                .await
                {
                    Ok((200, body)) => {
                        let next = body["refresh_token"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        ((c, b, next, a), true)
                    }
                    _ => ((c, b, r, a), false),
                }
            },
        )
        .await;
        println!("{}", m.line("refresh", concurrency));

        // /me: decode + user lookup, no hashing, no write.
        let m = run(
            args.requests,
            args.seconds,
            me_states,
            |(c, b, r, a)| async move {
                let ok = c
                    .get(format!("{b}{PREFIX}/me"))
                    .bearer_auth(&a)
                    .send()
                    .await
                    .is_ok_and(|resp| resp.status().as_u16() == 200);
                ((c, b, r, a), ok)
            },
        )
        .await;
        println!("{}", m.line("me", concurrency));

        // The hashing alone, in this process, with the service's hasher.
        let hasher = PasswordHasher::default();
        let hash = hasher.hash(PASSWORD).await.map_err(|e| e.to_string())?;
        let states = vec![(hasher.clone(), hash.clone()); concurrency];
        let m = run(
            args.requests,
            args.seconds,
            states,
            |(h, hash)| async move {
                let ok = h.verify(PASSWORD, &hash).await.unwrap_or(false);
                ((h, hash), ok)
            },
        )
        .await;
        println!("{}", m.line("hash only", concurrency));
    }
    Ok(())
}
