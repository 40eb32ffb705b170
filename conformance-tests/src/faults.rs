//! Network faults between a store and its server: a TCP proxy on loopback
//! that can cut every connection, delay traffic, drop bytes silently and
//! refuse new connections.
//!
//! Point the store at [`FaultProxy::addr`] instead of the server (rewrite
//! the host and port of its URL), run a load, and inject faults while it
//! runs. The proxy never changes a byte it forwards; a fault only decides
//! whether, when and on which connections bytes flow.
//!
//! | fault | what the store sees |
//! | --- | --- |
//! | [`cut_all`](FaultProxy::cut_all) | every open connection is closed (both sides, at once): a server restart, a killed proxy |
//! | [`set_delay`](FaultProxy::set_delay) | every chunk of bytes is held that long before it is forwarded, in both directions (a round trip takes at least twice the delay) |
//! | [`blackhole`](FaultProxy::blackhole) | connections stay open (and new ones are accepted) but every byte is read and dropped, in both directions: a silent partition, a half-open connection |
//! | [`refuse`](FaultProxy::refuse) | new connections are accepted and closed at once, before any byte; open ones are untouched |
//!
//! A connection that has lost bytes to the blackhole stays silent after the
//! blackhole ends (its two byte streams are no longer in step, as after a
//! real half-open connection): it drops whatever it receives until one side
//! closes it or [`cut_all`](FaultProxy::cut_all) does. A store must give up
//! on such a connection by itself (a timeout that discards it); connections
//! that carried no byte during the blackhole work on as before.
//!
//! With no fault on, the proxy is a meter: [`ProxyStats::round_trips`]
//! counts the times a client spoke after its server, so a test can assert
//! how many round trips an operation costs on the wire.
//!
//! ```
//! use std::time::Duration;
//! use fullauth_conformance::faults::FaultProxy;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // An echo server stands in for the database.
//! let server = TcpListener::bind("127.0.0.1:0").await?;
//! let upstream = server.local_addr()?;
//! tokio::spawn(async move {
//!     while let Ok((mut socket, _)) = server.accept().await {
//!         tokio::spawn(async move {
//!             let mut buf = [0u8; 64];
//!             while let Ok(n) = socket.read(&mut buf).await {
//!                 if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! });
//!
//! let proxy = FaultProxy::start(upstream).await?;
//! let mut client = TcpStream::connect(proxy.addr()).await?;
//! client.write_all(b"ping").await?;
//! let mut answer = [0u8; 4];
//! client.read_exact(&mut answer).await?;
//! assert_eq!(&answer, b"ping");
//!
//! // Silence: the bytes are swallowed, nothing comes back.
//! proxy.blackhole(true);
//! client.write_all(b"lost").await?;
//! let silent = tokio::time::timeout(Duration::from_millis(100), client.read(&mut answer)).await;
//! assert!(silent.is_err(), "no answer through a blackhole");
//!
//! // Cut: the connection is closed under the client.
//! assert_eq!(proxy.cut_all(), 1);
//! assert_eq!(client.read(&mut answer).await.unwrap_or(0), 0);
//!
//! // Healed: a new connection works again.
//! proxy.heal();
//! let mut client = TcpStream::connect(proxy.addr()).await?;
//! client.write_all(b"back").await?;
//! client.read_exact(&mut answer).await?;
//! assert_eq!(&answer, b"back");
//! let stats = proxy.stats();
//! assert_eq!(stats.accepted, 2);
//! assert_eq!(stats.cut, 1);
//! assert!(stats.bytes_dropped >= 4);
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The server address of `url` (`scheme://[userinfo@]host[:port]…`),
/// `default_port` when it names none, resolved (the first address); `None`
/// when the URL has no host or it does not resolve. Resolution may block
/// briefly (a name lookup).
pub fn upstream_of(url: &str, default_port: u16) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs as _;
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = authority
        .rfind('@')
        .map_or(authority, |at| &authority[at + 1..]);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
            match port.parse::<u16>() {
                Ok(port) => (host, port),
                Err(_) => (host_port, default_port),
            }
        }
        _ => (host_port, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    (host, port).to_socket_addrs().ok()?.next()
}

/// Counters of a [`FaultProxy`] since it started ([`FaultProxy::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and served (not refused).
    pub accepted: u64,
    /// Connections closed at once because [`FaultProxy::refuse`] was on.
    pub refused: u64,
    /// Served connections whose connection to the upstream server failed
    /// (closed at once).
    pub upstream_failed: u64,
    /// Connections open now.
    pub active: u64,
    /// Connections closed by [`FaultProxy::cut_all`].
    pub cut: u64,
    /// Connections that lost at least one byte to the blackhole.
    pub blackholed: u64,
    /// Bytes forwarded, both directions.
    pub bytes_forwarded: u64,
    /// Bytes dropped by the blackhole, both directions.
    pub bytes_dropped: u64,
    /// Round trips: how many times a client sent bytes after the server had
    /// last sent (or first), summed over connections. A request written in
    /// several pieces before any answer counts once, as do several requests
    /// sent together (pipelined); the connection handshake counts as the
    /// round trips it takes. For a client that waits for each answer before
    /// it sends again, this is the number of waits on the network.
    pub round_trips: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    upstream_failed: AtomicU64,
    active: AtomicU64,
    cut: AtomicU64,
    blackholed: AtomicU64,
    bytes_forwarded: AtomicU64,
    bytes_dropped: AtomicU64,
    round_trips: AtomicU64,
}

/// What the accept loop and the connections share.
struct Shared {
    upstream: SocketAddr,
    /// The delay, in microseconds.
    delay_micros: AtomicU64,
    blackhole: AtomicBool,
    refuse: AtomicBool,
    /// Bumped by every cut: each connection closes on a change.
    cuts: watch::Sender<u64>,
    counters: Counters,
}

impl Shared {
    fn delay(&self) -> Duration {
        Duration::from_micros(self.delay_micros.load(Ordering::Relaxed))
    }
}

/// A TCP proxy on `127.0.0.1` in front of one upstream server, with faults
/// to inject (see [the module docs](self)). Dropping it stops accepting and
/// closes every connection it serves.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("stats", &self.stats())
            .finish()
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on a free port of `127.0.0.1`, with no
    /// fault. Each accepted connection opens its own connection to
    /// `upstream`. Must be called inside a Tokio runtime (with the I/O and
    /// time drivers enabled); the proxy's tasks run on it.
    ///
    /// # Errors
    /// The I/O error of binding the listening socket.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (cuts, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            upstream,
            delay_micros: AtomicU64::new(0),
            blackhole: AtomicBool::new(false),
            refuse: AtomicBool::new(false),
            cuts,
            counters: Counters::default(),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy {
            addr,
            shared,
            accept,
        })
    }

    /// The address clients connect to instead of the upstream server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The upstream server's address.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// `url` (`scheme://[user[:password]@]host[:port][/path][?query]`) with
    /// its host and port replaced by the proxy's; `None` when it has no
    /// `://`.
    pub fn rewrite_url(&self, url: &str) -> Option<String> {
        let (scheme, rest) = url.split_once("://")?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let userinfo = authority.rfind('@').map_or("", |at| &authority[..=at]);
        Some(format!("{scheme}://{userinfo}{}{tail}", self.addr))
    }

    /// Closes every connection open now, on both sides, and returns how
    /// many were open. New connections are served as usual (unless
    /// [`refuse`](Self::refuse) is on). The sockets close in the
    /// connections' own tasks, right after the call: poll
    /// [`stats`](Self::stats)`().active` to wait for it.
    pub fn cut_all(&self) -> u64 {
        let open = self.shared.counters.active.load(Ordering::SeqCst);
        self.shared.cuts.send_modify(|generation| *generation += 1);
        open
    }

    /// Holds every chunk of bytes for `delay` before forwarding it, in both
    /// directions, from now on (zero: no delay). Chunks already held keep
    /// the delay they started with.
    pub fn set_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.shared.delay_micros.store(micros, Ordering::SeqCst);
    }

    /// On: every byte read from either side is dropped, silently; sockets
    /// stay open and new connections are accepted (and get the same
    /// treatment). Off: connections that lost no byte forward again;
    /// those that lost some stay silent (see [the module docs](self)).
    pub fn blackhole(&self, on: bool) {
        self.shared.blackhole.store(on, Ordering::SeqCst);
    }

    /// On: every new connection is closed as soon as it is accepted, before
    /// any byte is read or sent; open connections are untouched (combine
    /// with [`cut_all`](Self::cut_all) for a server that is gone).
    pub fn refuse(&self, on: bool) {
        self.shared.refuse.store(on, Ordering::SeqCst);
    }

    /// Ends every fault: no delay, no blackhole, no refusal. Connections
    /// that lost bytes to the blackhole stay silent.
    pub fn heal(&self) {
        self.set_delay(Duration::ZERO);
        self.blackhole(false);
        self.refuse(false);
    }

    /// The counters since the proxy started.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        ProxyStats {
            accepted: get(&c.accepted),
            refused: get(&c.refused),
            upstream_failed: get(&c.upstream_failed),
            active: get(&c.active),
            cut: get(&c.cut),
            blackholed: get(&c.blackholed),
            bytes_forwarded: get(&c.bytes_forwarded),
            bytes_dropped: get(&c.bytes_dropped),
            round_trips: get(&c.round_trips),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.cuts.send_modify(|generation| *generation += 1);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                // Out of file descriptors and the like: try again shortly
                // rather than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if shared.refuse.load(Ordering::SeqCst) {
            shared.counters.refused.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        shared.counters.accepted.fetch_add(1, Ordering::SeqCst);
        let cut = shared.cuts.subscribe();
        tokio::spawn(serve(client, shared.clone(), cut));
    }
}

/// Decrements the open-connection count however the connection ends.
struct Active<'a>(&'a Counters);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(client: TcpStream, shared: Arc<Shared>, mut cut: watch::Receiver<u64>) {
    let counters = &shared.counters;
    counters.active.fetch_add(1, Ordering::SeqCst);
    let _active = Active(counters);
    let upstream = tokio::select! {
        r = TcpStream::connect(shared.upstream) => r,
        _ = cut.changed() => {
            counters.cut.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    let Ok(upstream) = upstream else {
        counters.upstream_failed.fetch_add(1, Ordering::SeqCst);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let poisoned = AtomicBool::new(false);
    // Whether the server spoke last (true) or the client (false).
    let server_last = AtomicBool::new(true);
    let to_server = Direction {
        poisoned: &poisoned,
        server_last: &server_last,
        from_server: false,
    };
    let to_client = Direction {
        from_server: true,
        ..to_server
    };
    tokio::select! {
        _ = pump(client_read, upstream_write, &shared, to_server) => {}
        _ = pump(upstream_read, client_write, &shared, to_client) => {}
        _ = cut.changed() => {
            counters.cut.fetch_add(1, Ordering::SeqCst);
        }
    }
    // Every half is dropped here: both sockets close.
}

/// One direction of a connection, and the state both share.
#[derive(Clone, Copy)]
struct Direction<'a> {
    /// Set once the blackhole swallowed a byte of the connection.
    poisoned: &'a AtomicBool,
    /// Whether the server sent last (for [`ProxyStats::round_trips`]).
    server_last: &'a AtomicBool,
    /// This direction carries the server's bytes.
    from_server: bool,
}

/// Forwards one direction until its reader ends or its writer fails.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: &Shared,
    dir: Direction<'_>,
) {
    let poisoned = dir.poisoned;
    let counters = &shared.counters;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let delay = shared.delay();
        if !delay.is_zero() && !shared.blackhole.load(Ordering::SeqCst) {
            tokio::time::sleep(delay).await;
        }
        // Checked after the delay: bytes in flight when the blackhole
        // starts are lost too.
        if shared.blackhole.load(Ordering::SeqCst) && !poisoned.swap(true, Ordering::SeqCst) {
            counters.blackholed.fetch_add(1, Ordering::SeqCst);
        }
        let len = n as u64;
        if poisoned.load(Ordering::SeqCst) {
            counters.bytes_dropped.fetch_add(len, Ordering::SeqCst);
            continue;
        }
        // Counted before the bytes go on, so the answer cannot overtake it.
        let server_was_last = dir.server_last.swap(dir.from_server, Ordering::SeqCst);
        if !dir.from_server && server_was_last {
            counters.round_trips.fetch_add(1, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        counters.bytes_forwarded.fetch_add(len, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// A fault scenario for durable stores.
// ---------------------------------------------------------------------------

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Instant;

use fullauth_api::{
    FamilyId, NewRefreshToken, NewUser, NextRefreshToken, Rotation, Store, StoreError, Timestamp,
    TokenDigest, UserId,
};
use futures::StreamExt as _;

/// One fault of [`run_durable_scenario`], injected for
/// [`ScenarioSettings::fault`] and then healed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// [`FaultProxy::cut_all`], again every 200 ms while the fault lasts.
    Cut,
    /// [`FaultProxy::set_delay`] with this delay.
    Delay(Duration),
    /// [`FaultProxy::blackhole`].
    Blackhole,
    /// [`FaultProxy::refuse`], with every open connection cut at its start:
    /// the server is gone.
    Refuse,
}

impl Fault {
    /// Every fault, the delay being `delay`.
    pub fn all(delay: Duration) -> Vec<Fault> {
        vec![
            Fault::Cut,
            Fault::Delay(delay),
            Fault::Blackhole,
            Fault::Refuse,
        ]
    }

    fn name(self) -> &'static str {
        match self {
            Fault::Cut => "cut",
            Fault::Delay(_) => "delay",
            Fault::Blackhole => "blackhole",
            Fault::Refuse => "refuse",
        }
    }
}

/// The shape of [`run_durable_scenario`].
#[derive(Clone, Debug)]
pub struct ScenarioSettings {
    /// Concurrent tasks of the load (default 8).
    pub tasks: usize,
    /// How long the load runs before the first fault (default 500 ms).
    pub baseline: Duration,
    /// How long each fault lasts (default 1.5 s).
    pub fault: Duration,
    /// How long the load runs after each heal (default 1.5 s).
    pub recovery: Duration,
    /// After a heal, calls that start later than this must all succeed
    /// (default 1 s): it leaves the calls caught by the fault time to end
    /// and the store time to drop its dead connections.
    pub recovery_grace: Duration,
    /// The longest a call may take, whatever the fault: the store's own
    /// operation timeout plus scheduling slack (default 2 s).
    pub bound: Duration,
    /// The faults, in order (default [`Fault::all`] with 300 ms).
    pub faults: Vec<Fault>,
}

impl Default for ScenarioSettings {
    fn default() -> Self {
        ScenarioSettings {
            tasks: 8,
            baseline: Duration::from_millis(500),
            fault: Duration::from_millis(1500),
            recovery: Duration::from_millis(1500),
            recovery_grace: Duration::from_secs(1),
            bound: Duration::from_secs(2),
            faults: Fault::all(Duration::from_millis(300)),
        }
    }
}

/// The calls of one phase of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhaseStats {
    /// `baseline`, a fault's name, or `recovery after <fault>`.
    pub name: String,
    /// Calls that started in the phase.
    pub calls: u64,
    /// Of which answered `Ok`.
    pub ok: u64,
    /// Of which answered an error, by error kind (`Unavailable`, …).
    pub errors: BTreeMap<String, u64>,
    /// The longest call.
    pub max: Duration,
    /// The first few error messages, as samples.
    pub samples: Vec<String>,
}

impl PhaseStats {
    /// Calls that answered an error.
    pub fn err(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// What [`run_durable_scenario`] saw.
#[derive(Clone, Debug, Default)]
pub struct ScenarioReport {
    /// The phases, in order.
    pub phases: Vec<PhaseStats>,
    /// Every broken property, in words; empty when the store held.
    pub violations: Vec<String>,
    /// `Ok` answers checked afterwards on the direct store.
    pub checked: u64,
    /// The counters of the proxy at the end.
    pub proxy: ProxyStats,
    /// How long the load ran.
    pub load_time: Duration,
    /// How long the checks took.
    pub check_time: Duration,
}

impl ScenarioReport {
    /// True when no property was broken.
    pub fn is_success(&self) -> bool {
        self.violations.is_empty()
    }

    /// The longest call of the whole run.
    pub fn max_call(&self) -> Duration {
        self.phases.iter().map(|p| p.max).max().unwrap_or_default()
    }
}

impl fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<26} {:>6} {:>6} {:>6} {:>9}  errors",
            "phase", "calls", "ok", "err", "max ms"
        )?;
        for p in &self.phases {
            writeln!(
                f,
                "{:<26} {:>6} {:>6} {:>6} {:>9}  {:?}",
                p.name,
                p.calls,
                p.ok,
                p.err(),
                p.max.as_millis(),
                p.errors
            )?;
            for sample in &p.samples {
                writeln!(f, "    e.g. {sample}")?;
            }
        }
        writeln!(
            f,
            "load {:?}, checks {:?} ({} Ok answers checked), longest call {:?}",
            self.load_time,
            self.check_time,
            self.checked,
            self.max_call()
        )?;
        writeln!(f, "proxy: {:?}", self.proxy)?;
        if self.violations.is_empty() {
            writeln!(f, "no violation")
        } else {
            writeln!(f, "{} violation(s):", self.violations.len())?;
            for v in self.violations.iter().take(50) {
                writeln!(f, "  - {v}")?;
            }
            Ok(())
        }
    }
}

/// The kind of a call of the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    CreateUser,
    StoreToken,
    Rotate,
    Revoke,
}

/// One call: when it started (from the start of the load), how long it
/// took, and the error kind when it failed.
struct Call {
    op: Op,
    start: Duration,
    took: Duration,
    error: Option<String>,
    message: Option<String>,
}

/// What a task learned, for the checks.
#[derive(Default)]
struct Facts {
    calls: Vec<Call>,
    /// Users created with an `Ok`.
    users: Vec<UserId>,
    /// Tokens stored with an `Ok`: digest, family, owner.
    tokens: Vec<(TokenDigest, FamilyId, UserId)>,
    /// Every rotation tried: old, next, and whether it answered `Rotated`.
    rotations: Vec<(TokenDigest, TokenDigest, bool)>,
    /// Every revocation tried: digest, and its answer when `Ok`.
    revokes: Vec<(TokenDigest, Option<bool>)>,
    /// Answers that break the contract by themselves.
    violations: Vec<String>,
}

fn error_kind(e: &StoreError) -> String {
    let debug = format!("{e:?}");
    debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn new_digest() -> TokenDigest {
    TokenDigest::of(&uuid::Uuid::new_v4().to_string())
}

/// Runs one call under a hard bound four times the scenario's (so that a
/// store that hangs fails the scenario instead of hanging it).
async fn timed<T>(
    facts: &mut Facts,
    t0: Instant,
    bound: Duration,
    op: Op,
    fut: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Option<Result<T, StoreError>> {
    let start = t0.elapsed();
    let began = Instant::now();
    let out = tokio::time::timeout(bound * 4, fut).await;
    let took = began.elapsed();
    let (error, message, out) = match out {
        Ok(Ok(v)) => (None, None, Some(Ok(v))),
        Ok(Err(e)) => (Some(error_kind(&e)), Some(e.to_string()), Some(Err(e))),
        Err(_) => (Some("Hung".to_string()), None, None),
    };
    facts.calls.push(Call {
        op,
        start,
        took,
        error,
        message,
    });
    out
}

/// One task of the load: a user, a refresh-token family rotated again and
/// again, revoked now and then (then a new family), a new user now and
/// then. After a call whose outcome is unknown (an error) the task gives up
/// what it was working on: a user that may not exist, a family whose
/// current token it no longer knows.
async fn load_task(
    store: Arc<dyn Store>,
    stop: Arc<AtomicBool>,
    t0: Instant,
    bound: Duration,
) -> Facts {
    let mut facts = Facts::default();
    let mut user: Option<UserId> = None;
    let mut current: Option<(TokenDigest, FamilyId)> = None;
    let mut step: u64 = 0;
    let expires = Timestamp::now() + Duration::from_secs(3600);
    while !stop.load(Ordering::SeqCst) {
        step += 1;
        let Some(ref owner) = user else {
            let id = UserId::generate();
            let email = format!("fault-{}@example.test", uuid::Uuid::new_v4().simple());
            let new = match NewUser::new(&email) {
                Ok(new) => NewUser {
                    id: Some(id.clone()),
                    ..new
                },
                Err(e) => {
                    facts.violations.push(format!("NewUser::new({email}): {e}"));
                    return facts;
                }
            };
            if let Some(Ok(created)) = timed(
                &mut facts,
                t0,
                bound,
                Op::CreateUser,
                store.create_user(new),
            )
            .await
            {
                if created.id != id {
                    facts
                        .violations
                        .push(format!("create_user({id}) answered the id {}", created.id));
                }
                facts.users.push(id.clone());
                user = Some(id);
            }
            continue;
        };
        let Some((old, family)) = current.clone() else {
            let digest = new_digest();
            let family = FamilyId::generate();
            let new = NewRefreshToken {
                digest: digest.clone(),
                user_id: owner.clone(),
                family_id: family.clone(),
                expires_at: expires,
                client: Default::default(),
            };
            if let Some(Ok(_)) = timed(
                &mut facts,
                t0,
                bound,
                Op::StoreToken,
                store.store_refresh_token(new),
            )
            .await
            {
                facts
                    .tokens
                    .push((digest.clone(), family.clone(), owner.clone()));
                current = Some((digest, family));
            }
            continue;
        };
        if step % 10 == 0 {
            // Log out: revoke the live token, start a new family.
            let answer = timed(
                &mut facts,
                t0,
                bound,
                Op::Revoke,
                store.revoke_refresh_token(&old),
            )
            .await;
            let ok = match answer {
                Some(Ok(flipped)) => {
                    if !flipped {
                        facts.violations.push(format!(
                            "revoke_refresh_token of the live token {} answered false",
                            old.as_str()
                        ));
                    }
                    Some(flipped)
                }
                _ => None,
            };
            facts.revokes.push((old, ok));
            current = None;
            if step % 30 == 0 {
                user = None;
            }
            continue;
        }
        let next = new_digest();
        let answer = timed(
            &mut facts,
            t0,
            bound,
            Op::Rotate,
            store.rotate_refresh_token(
                &old,
                NextRefreshToken {
                    digest: next.clone(),
                    expires_at: expires,
                    client: Default::default(),
                },
            ),
        )
        .await;
        match answer {
            Some(Ok(Rotation::Rotated(token))) => {
                if token.family_id != family || token.user_id != *owner || token.digest != next {
                    facts.violations.push(format!(
                        "rotating {} answered a successor of another family, user or digest",
                        old.as_str()
                    ));
                }
                facts.rotations.push((old, next.clone(), true));
                current = Some((next, family));
            }
            Some(Ok(other)) => {
                facts.violations.push(format!(
                    "rotating the live token {} answered {other:?}",
                    old.as_str()
                ));
                facts.rotations.push((old, next, false));
                current = None;
            }
            _ => {
                facts.rotations.push((old, next, false));
                current = None;
            }
        }
    }
    facts
}

/// Runs a load of creates, rotations and revocations on `through` (a store
/// connected through `proxy`) while the proxy injects each fault of the
/// settings in turn, then checks on `direct` (the same database, without
/// the proxy) that:
///
/// * every call answered within [`ScenarioSettings::bound`];
/// * no write answered `Ok` was lost: the users exist, the stored tokens
///   exist in their family, rotated tokens are revoked and their successors
///   exist, revoked tokens are revoked;
/// * no rotation is half-applied, whatever its answer (`Ok`, an error, or
///   none): a successor exists only if the old token is revoked, in the
///   same family, and an old token revoked by a rotation (not by a
///   revocation) has its successor;
/// * the store serves again after each heal: every call started
///   [`ScenarioSettings::recovery_grace`] after it succeeds, and every task
///   has a success in each recovery.
///
/// A call that failed is "unknown": it may or may not have been applied;
/// only the rotation invariant speaks about it. The proxy is healed when
/// this returns. Must run on a multi-threaded Tokio runtime.
pub async fn run_durable_scenario(
    proxy: &FaultProxy,
    through: Arc<dyn Store>,
    direct: Arc<dyn Store>,
    settings: &ScenarioSettings,
) -> ScenarioReport {
    let mut report = ScenarioReport::default();
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..settings.tasks.max(1))
        .map(|_| tokio::spawn(load_task(through.clone(), stop.clone(), t0, settings.bound)))
        .collect();

    // The timeline: (name, start, whether calls in it must succeed after the grace).
    let mut timeline: Vec<(String, Duration, bool)> =
        vec![("baseline".into(), Duration::ZERO, false)];
    tokio::time::sleep(settings.baseline).await;
    for fault in &settings.faults {
        timeline.push((fault.name().into(), t0.elapsed(), false));
        let until = Instant::now() + settings.fault;
        match fault {
            Fault::Cut => {
                while Instant::now() < until {
                    proxy.cut_all();
                    tokio::time::sleep(Duration::from_millis(200).min(settings.fault)).await;
                }
            }
            Fault::Delay(d) => proxy.set_delay(*d),
            Fault::Blackhole => proxy.blackhole(true),
            Fault::Refuse => {
                proxy.refuse(true);
                proxy.cut_all();
            }
        }
        tokio::time::sleep_until(until.into()).await;
        proxy.heal();
        timeline.push((
            format!("recovery after {}", fault.name()),
            t0.elapsed(),
            true,
        ));
        tokio::time::sleep(settings.recovery).await;
    }
    stop.store(true, Ordering::SeqCst);
    let end = t0.elapsed();
    let mut all = Facts::default();
    let mut per_task: Vec<Vec<Call>> = Vec::new();
    for task in tasks {
        match task.await {
            Ok(facts) => {
                all.users.extend(facts.users);
                all.tokens.extend(facts.tokens);
                all.rotations.extend(facts.rotations);
                all.revokes.extend(facts.revokes);
                all.violations.extend(facts.violations);
                per_task.push(facts.calls);
            }
            Err(e) => all.violations.push(format!("a load task panicked: {e}")),
        }
    }
    report.load_time = t0.elapsed();
    report.violations = std::mem::take(&mut all.violations);

    // Per phase: counts, durations, recovery.
    let phase_of = |start: Duration| {
        timeline
            .iter()
            .rposition(|(_, at, _)| *at <= start)
            .unwrap_or(0)
    };
    report.phases = timeline
        .iter()
        .map(|(name, _, _)| PhaseStats {
            name: name.clone(),
            ..PhaseStats::default()
        })
        .collect();
    for (task, calls) in per_task.iter().enumerate() {
        let mut recovered = vec![false; timeline.len()];
        for call in calls {
            let i = phase_of(call.start);
            let phase = &mut report.phases[i];
            phase.calls += 1;
            phase.max = phase.max.max(call.took);
            match &call.error {
                None => {
                    phase.ok += 1;
                    recovered[i] = true;
                }
                Some(kind) => {
                    *phase.errors.entry(kind.clone()).or_default() += 1;
                    if phase.samples.len() < 3 {
                        phase.samples.push(format!(
                            "{:?}: {}",
                            call.op,
                            call.message.as_deref().unwrap_or(kind)
                        ));
                    }
                }
            }
            if call.took > settings.bound {
                report.violations.push(format!(
                    "{:?} in phase {} took {:?}, more than the bound {:?}",
                    call.op, timeline[i].0, call.took, settings.bound
                ));
            }
            let (name, at, must) = &timeline[i];
            let next = timeline.get(i + 1).map_or(end, |t| t.1);
            // Calls still running when the next fault starts may meet it.
            if *must && call.start >= *at + settings.recovery_grace && call.start + call.took < next
            {
                if let Some(kind) = &call.error {
                    report.violations.push(format!(
                        "{name}: {:?} started {:?} after the heal failed ({kind})",
                        call.op,
                        call.start - *at
                    ));
                }
            }
        }
        for (i, (name, at, must)) in timeline.iter().enumerate() {
            let next = timeline.get(i + 1).map_or(end, |t| t.1);
            if *must && next > *at + settings.recovery_grace && !recovered[i] {
                report
                    .violations
                    .push(format!("{name}: task {task} never succeeded again"));
            }
        }
    }

    // The checks, on the direct store.
    let checks_start = Instant::now();
    let (checked, violations) = check_durable(&direct, &all).await;
    report.checked = checked;
    report.violations.extend(violations);
    report.check_time = checks_start.elapsed();
    report.proxy = proxy.stats();
    report
}

/// How many checks of the direct store run at once.
const CHECK_CONCURRENCY: usize = 16;

async fn check_durable(direct: &Arc<dyn Store>, facts: &Facts) -> (u64, Vec<String>) {
    let mut violations = Vec::new();
    let mut checked = 0u64;
    // Users.
    let users: Vec<_> = futures::stream::iter(facts.users.iter().cloned())
        .map(|id| {
            let direct = direct.clone();
            async move {
                let found = direct.get_user(&id).await;
                (id, found)
            }
        })
        .buffer_unordered(CHECK_CONCURRENCY)
        .collect()
        .await;
    for (id, found) in users {
        checked += 1;
        match found {
            Ok(Some(_)) => {}
            Ok(None) => violations.push(format!("user {id} was created (Ok) but is missing")),
            Err(e) => violations.push(format!("reading user {id}: {e}")),
        }
    }
    // Every token the checks need, read once.
    let mut digests: Vec<TokenDigest> = facts.tokens.iter().map(|t| t.0.clone()).collect();
    for (old, next, _) in &facts.rotations {
        digests.push(old.clone());
        digests.push(next.clone());
    }
    digests.extend(facts.revokes.iter().map(|r| r.0.clone()));
    let mut seen = HashSet::new();
    digests.retain(|d| seen.insert(d.clone()));
    let read: Vec<_> = futures::stream::iter(digests)
        .map(|d| {
            let direct = direct.clone();
            async move {
                let found = direct.get_refresh_token(&d).await;
                (d, found)
            }
        })
        .buffer_unordered(CHECK_CONCURRENCY)
        .collect()
        .await;
    let mut tokens = std::collections::HashMap::new();
    for (d, found) in read {
        match found {
            Ok(found) => {
                tokens.insert(d, found);
            }
            Err(e) => violations.push(format!("reading token {}: {e}", d.as_str())),
        }
    }
    let get = |d: &TokenDigest| tokens.get(d).cloned().flatten();
    for (digest, family, owner) in &facts.tokens {
        checked += 1;
        match get(digest) {
            Some(t) if t.family_id == *family && t.user_id == *owner => {}
            Some(_) => violations.push(format!(
                "token {} is stored with another family or owner",
                digest.as_str()
            )),
            None => violations.push(format!(
                "token {} was stored (Ok) but is missing",
                digest.as_str()
            )),
        }
    }
    let revoked_by_call: HashSet<&TokenDigest> = facts.revokes.iter().map(|r| &r.0).collect();
    for (old, next, rotated) in &facts.rotations {
        let (o, n) = (get(old), get(next));
        if *rotated {
            checked += 1;
            if !o.as_ref().is_some_and(|o| o.revoked) {
                violations.push(format!(
                    "{} was rotated (Ok) but is not revoked",
                    old.as_str()
                ));
            }
            if n.is_none() {
                violations.push(format!(
                    "the successor {} of a rotation (Ok) is missing",
                    next.as_str()
                ));
            }
        }
        match (&o, &n) {
            (Some(o), Some(n)) => {
                if !o.revoked {
                    violations.push(format!(
                        "half-applied rotation: successor {} exists but {} is not revoked",
                        next.as_str(),
                        old.as_str()
                    ));
                }
                if n.family_id != o.family_id || n.user_id != o.user_id {
                    violations.push(format!(
                        "successor {} is not in the family of {}",
                        next.as_str(),
                        old.as_str()
                    ));
                }
            }
            (Some(o), None) if o.revoked && !revoked_by_call.contains(old) => {
                violations.push(format!(
                    "half-applied rotation: {} is revoked but its successor {} is missing",
                    old.as_str(),
                    next.as_str()
                ));
            }
            (None, Some(_)) => violations.push(format!(
                "successor {} exists but the rotated token {} does not",
                next.as_str(),
                old.as_str()
            )),
            _ => {}
        }
    }
    for (digest, answer) in &facts.revokes {
        if answer.is_some() {
            checked += 1;
            if !get(digest).is_some_and(|t| t.revoked) {
                violations.push(format!(
                    "{} was revoked (Ok) but is not revoked",
                    digest.as_str()
                ));
            }
        }
    }
    (checked, violations)
}
