//! `sim`: a faithful local emulator of CloudAPI 2016-07-14 for tests, benchmarks and the demo.
//!
//! In: a [`Fixture`] (an account as JSON) and [`SimOptions`] (listen address, faults, call-log
//! file). Out: an HTTP server on loopback that verifies v1 and ACS3-HMAC-SHA256 signatures with
//! its own code, answers the actions grantguard uses with the vendor's shapes, paging and error
//! codes, applies mutations to its in-memory account, and logs every call.
//!
//! It shares nothing with the client but `grantguard_wire`, so a client bug cannot hide behind it.
//! It must never listen beyond what it is told (default `127.0.0.1:0`), and never print or log
//! a secret or STS token (it does log `Signature` values, which leak tests use as canaries).
//!
//! ```no_run
//! use grantguard_sim::{Fixture, Sim, SimOptions};
//! let fixture = Fixture::from_path("tests/fixtures/basic-account.json".as_ref()).unwrap();
//! let sim = Sim::start(fixture, SimOptions::default()).unwrap();
//! println!("{}", sim.url());
//! assert_eq!(sim.calls("RemoveVpcAccess"), 0);
//! ```

pub mod conn;
pub mod faults;
pub mod fixture;
pub mod generate;
pub mod handlers;
pub mod log;
pub mod metadata;
pub mod state;
pub mod sts;
pub mod verify;

pub use faults::{
    CorruptRule, Corruption, CountRule, FailRule, Faults, OversizeRule, ResetRule, SlowRule,
};
pub use fixture::{Fixture, FixtureCredential, FixtureError};
pub use log::{CallRecord, SignatureVersion};
pub use state::Account;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use axum::Router;
use conn::{Conn, FaultListener};
use faults::{Counted, FaultState, Verdict};
use handlers::{ApiError, Ctx, Params};
use log::CallLog;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How far a request's timestamp may be from the server's clock (docs/cloudapi-notes.md §8.8: the V3 doc
/// bounds `x-acs-date` to about 15 minutes; the emulator uses the same window for v1).
const TIMESTAMP_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Emulator settings; the CLI maps its flags onto this (no clap here).
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where [`Sim::start`] listens (default `127.0.0.1:0`: an ephemeral loopback port).
    pub listen: SocketAddr,
    /// Faults, merged over the fixture's `"faults"` (these win).
    pub faults: Faults,
    /// Also append the call log to this file as JSON lines.
    pub log_path: Option<PathBuf>,
    /// Accept the credentials in the emulator's own environment (read once at start).
    pub env_credentials: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: Faults::default(),
            log_path: None,
            env_credentials: true,
        }
    }
}

/// The emulator could not start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    #[diagnostic(
        code(grantguard::sim::bind),
        help("pick another address, or port 0 for any free port")
    )]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The call-log file could not be opened.
    #[error("cannot open the call log {path}")]
    #[diagnostic(code(grantguard::sim::log_file))]
    LogFile {
        /// Path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server's runtime or thread failed.
    #[error("emulator runtime failed")]
    #[diagnostic(code(grantguard::sim::runtime))]
    Runtime(#[source] std::io::Error),
}

/// What a hook is told about the call it runs for.
#[derive(Debug, Clone)]
pub struct HookCall {
    /// Action.
    pub action: String,
    /// Decoded parameters.
    pub params: Vec<(String, String)>,
    /// 1-based count of served calls of this action, this one included.
    pub nth: usize,
}

impl HookCall {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A test hook: runs with the account on every served call of its action.
pub type Hook = Box<dyn FnMut(&HookCall, &mut Account) + Send>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum When {
    Before,
    After,
}

struct Shared {
    account: Mutex<Account>,
    credentials: Vec<FixtureCredential>,
    faults: Mutex<FaultState>,
    clock_offset: time::Duration,
    latency: Duration,
    nonces: Mutex<HashSet<(String, String)>>,
    served: Mutex<std::collections::HashMap<String, usize>>,
    hooks: Mutex<Vec<(When, String, Hook)>>,
    log: CallLog,
    host_id: String,
    identity: sts::Identity,
    /// Authenticated calls that carried an STS token (for `sts_expire_after`).
    token_calls: std::sync::atomic::AtomicU64,
    /// Body bytes handed to the connection by oversized answers.
    oversize_sent: Arc<std::sync::atomic::AtomicU64>,
    /// Answers held by `slowloris` and `hang` faults, and how long each held its connection.
    stalls: Arc<Mutex<Vec<Stall>>>,
}

/// One answer a `slowloris` or `hang` fault held, as the emulator saw it end.
#[derive(Debug, Clone, PartialEq)]
pub struct Stall {
    /// Action of the request.
    pub action: String,
    /// `slowloris` or `hang`.
    pub kind: &'static str,
    /// When the request arrived.
    pub arrived: Instant,
    /// From the request's arrival to the moment the connection gave the answer up (the
    /// client closed it, or the trickle ended); `None` while it is still held.
    pub held: Option<Duration>,
    /// Body bytes trickled out before it ended (0 for a hang).
    pub bytes_sent: u64,
}

/// Marks its [`Stall`] ended, with the time held, when the held answer is dropped (hyper drops
/// it when the client goes away).
struct StallGuard {
    stalls: Arc<Mutex<Vec<Stall>>>,
    index: usize,
    started: Instant,
    bytes_sent: u64,
}

impl StallGuard {
    fn new(
        stalls: &Arc<Mutex<Vec<Stall>>>,
        action: &str,
        kind: &'static str,
        arrived: Instant,
    ) -> StallGuard {
        let index = {
            let mut all = lock(stalls);
            all.push(Stall {
                action: action.to_owned(),
                kind,
                arrived,
                held: None,
                bytes_sent: 0,
            });
            all.len() - 1
        };
        StallGuard {
            stalls: stalls.clone(),
            index,
            started: arrived,
            bytes_sent: 0,
        }
    }
}

impl Drop for StallGuard {
    fn drop(&mut self) {
        if let Some(stall) = lock(&self.stalls).get_mut(self.index) {
            stall.held = Some(self.started.elapsed());
            stall.bytes_sent = self.bytes_sent;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking hook must not take the whole emulator down with a poisoned lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn env_credential() -> Option<FixtureCredential> {
    let id = std::env::var("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .ok()
        .filter(|v| !v.is_empty())?;
    let secret = std::env::var("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .ok()
        .filter(|v| !v.is_empty())?;
    let token = std::env::var("ALIBABA_CLOUD_SECURITY_TOKEN")
        .ok()
        .filter(|v| !v.is_empty());
    Some(FixtureCredential {
        access_key_id: id,
        access_key_secret: secret,
        security_token: token,
    })
}

impl Shared {
    fn new(fixture: Fixture, options: &SimOptions) -> Result<Shared, SimError> {
        let faults = fixture.faults.clone().merged(&options.faults);
        let mut credentials = fixture.credentials.clone();
        if options.env_credentials {
            credentials.extend(env_credential());
        }
        let log = CallLog::with_file(options.log_path.as_deref()).map_err(|source| {
            SimError::LogFile {
                path: options
                    .log_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                source,
            }
        })?;
        Ok(Shared {
            account: Mutex::new({
                let mut account = Account::from_fixture(&fixture);
                // The task faults live with the account: the handlers decide them mid-task.
                account.update_faults = state::UpdateFaults {
                    fail: faults.update_fail.clone(),
                    never_finishes: faults.update_never_finishes,
                };
                account
            }),
            credentials,
            clock_offset: time::Duration::seconds(faults.clock_offset_secs.unwrap_or(0)),
            latency: Duration::from_millis(faults.latency_ms.unwrap_or(0)),
            faults: Mutex::new(FaultState::new(faults)),
            nonces: Mutex::new(HashSet::new()),
            served: Mutex::new(Default::default()),
            hooks: Mutex::new(Vec::new()),
            log,
            host_id: format!("apigateway.{}.aliyuncs.com", fixture.region),
            identity: sts::Identity::new(),
            token_calls: Default::default(),
            oversize_sent: Default::default(),
            stalls: Default::default(),
        })
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.clock_offset
    }
}

/// A running emulator owned by a test or the demo; it stops when dropped.
pub struct Sim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sim {
    /// Starts the emulator on its own runtime thread and returns once it is listening. Works
    /// from plain `#[test]`s and from inside a tokio runtime alike (it never blocks on one).
    pub fn start(fixture: Fixture, options: SimOptions) -> Result<Sim, SimError> {
        let shared = Arc::new(Shared::new(fixture, &options)?);
        let listener =
            std::net::TcpListener::bind(options.listen).map_err(|source| SimError::Bind {
                addr: options.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(SimError::Runtime)?;
        listener.set_nonblocking(true).map_err(SimError::Runtime)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("grantguard-sim")
            .enable_all()
            .build()
            .map_err(SimError::Runtime)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared.clone());
        let thread = std::thread::Builder::new()
            .name("grantguard-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let server = axum::serve(
                        FaultListener::new(listener),
                        app.into_make_service_with_connect_info::<Conn>(),
                    )
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    });
                    if let Err(e) = server.await {
                        eprintln!("sim: server stopped: {e}");
                    }
                });
                // Connections still open (a client holding keep-alive) must not delay Drop.
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .map_err(SimError::Runtime)?;
        Ok(Sim {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:40123/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every call so far.
    pub fn log(&self) -> Vec<CallRecord> {
        self.shared.log.records()
    }

    /// How many requests the emulator answered with an injected fault (the call log's records
    /// with a `fault`): what fired, not what was configured.
    pub fn faults_applied(&self) -> usize {
        self.shared
            .log
            .records()
            .iter()
            .filter(|r| r.fault.is_some())
            .count()
    }

    /// How many requests named `action` (whatever their outcome).
    pub fn calls(&self, action: &str) -> usize {
        self.shared.log.count(action)
    }

    /// Body bytes the emulator's oversized answers (`oversize` faults) handed to their
    /// connections: a client that stops reading at its cap keeps this far below the size.
    pub fn oversize_bytes_sent(&self) -> u64 {
        self.shared
            .oversize_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every answer a `slowloris` or `hang` fault held so far, in arrival order, with how long
    /// each held its connection (the witness of the client's per-attempt timeout).
    pub fn stalls(&self) -> Vec<Stall> {
        lock(&self.shared.stalls).clone()
    }

    /// A copy of the account as it is now.
    pub fn state(&self) -> Account {
        lock(&self.shared.account).clone()
    }

    /// Changes the account between calls (e.g. publish an API) and returns what `f` returns.
    pub fn mutate<R>(&self, f: impl FnOnce(&mut Account) -> R) -> R {
        f(&mut lock(&self.shared.account))
    }

    /// Runs `hook` just before every served call of `action` (after signature and fault checks).
    pub fn before(&self, action: &str, hook: impl FnMut(&HookCall, &mut Account) + Send + 'static) {
        lock(&self.shared.hooks).push((When::Before, action.to_owned(), Box::new(hook)));
    }

    /// Runs `hook` just after every served call of `action`, before the answer is sent.
    pub fn after(&self, action: &str, hook: impl FnMut(&HookCall, &mut Account) + Send + 'static) {
        lock(&self.shared.hooks).push((When::After, action.to_owned(), Box::new(hook)));
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves the emulator on `listen` until the future is dropped; `ready` gets the bound address
/// first (`grantguard sim serve` prints `listening on http://ADDR` from it).
pub async fn serve(
    fixture: Fixture,
    options: SimOptions,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), SimError> {
    let shared = Arc::new(Shared::new(fixture, &options)?);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(SimError::Runtime)?;
    ready(addr);
    axum::serve(
        FaultListener::new(listener),
        router(shared).into_make_service_with_connect_info::<Conn>(),
    )
    .await
    .map_err(SimError::Runtime)
}

/// The faults a fixture may aim at STS: `fail`, `hang` and `drop_before_apply` rules for
/// `AssumeRole` (no scope), so tests can watch the client retry and time out the provider
/// chain's exchange. Random faults (rates, QPS) stay on the CloudAPI side.
fn sts_fault(shared: &Shared, rid: &str) -> Option<Answer> {
    const ACTION: &str = "AssumeRole";
    let (forced, hang, drop) = {
        let mut faults = lock(&shared.faults);
        let forced = faults.forced_error(ACTION, &[]).map(|rule| {
            ApiError::with_status(rule.status(), &rule.code, format!("Injected fault {rule}"))
        });
        let hang = forced.is_none() && faults.hit(Counted::Hang, ACTION, &[]);
        let drop = forced.is_none() && !hang && faults.hit(Counted::DropBeforeApply, ACTION, &[]);
        (forced, hang, drop)
    };
    match (forced, hang, drop) {
        (Some(e), _, _) => Some(Answer::error(shared, rid, &e).injected("fail")),
        (None, true, _) => Some(Answer::raw(Raw::Hang).injected("hang")),
        (None, false, true) => Some(Answer::raw(Raw::Drop).injected("drop_before_apply")),
        (None, false, false) => None,
    }
}

/// Answers an ECS metadata request and logs it as action `ecs-metadata`.
fn metadata_entry(
    shared: &Shared,
    method: &Method,
    path: &str,
    now: OffsetDateTime,
) -> Response<Body> {
    let (status, content_type, body) =
        metadata::serve(&shared.identity, method.as_str(), path, now);
    let mut record = CallRecord {
        time: log_time(OffsetDateTime::now_utc()),
        action: "ecs-metadata".into(),
        method: method.to_string(),
        group_id: None,
        api_id: None,
        stage_name: None,
        backend_id: None,
        vpc_name: None,
        page_number: None,
        signature_version: None,
        access_key_id: None,
        nonce: None,
        signature: None,
        status,
        error_code: None,
        response_bytes: body.len() as u64,
        fault: None,
    };
    record.error_code = (status != 200).then(|| format!("HTTP{status}"));
    shared.log.push(record);
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(entry).with_state(shared)
}

fn request_id() -> String {
    let v: u128 = rand::random();
    let h = format!("{v:032X}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn http_date(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

fn iso(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// A call-log time: RFC 3339 with microseconds, so the order of calls and the gaps between
/// them (a removal's re-check window is milliseconds long) can be read from the log.
fn log_time(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

fn decode_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// What one request turned into.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    error_code: Option<String>,
    retry_after: bool,
    truncate: bool,
    /// Send only this many body bytes, then drop the connection (`reset` faults).
    cut_after: Option<usize>,
    /// Replace the body by a padded JSON object of this size, chunked or not (`oversize`).
    oversize: Option<(u64, bool)>,
    /// Answer in a way no plain HTTP response can (`slowloris`, `hang`, `drop_*`).
    raw: Option<Raw>,
    /// The injected faults this answer carries, `+`-joined (the call log's `fault`).
    fault: Option<String>,
}

/// The raw-connection faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    /// The head, then one body byte per interval.
    Trickle(Duration),
    /// Never answer.
    Hang,
    /// Drop the connection (RST) without a byte of answer.
    Drop,
}

impl Answer {
    fn raw(raw: Raw) -> Answer {
        Answer {
            status: 0,
            content_type: "application/json;charset=utf-8",
            body: Vec::new(),
            error_code: None,
            retry_after: false,
            truncate: false,
            cut_after: None,
            oversize: None,
            raw: Some(raw),
            fault: None,
        }
    }
}

impl Answer {
    fn error(shared: &Shared, rid: &str, e: &ApiError) -> Answer {
        Answer::error_of(&shared.host_id, "CloudAPI", rid, e)
    }

    /// The error envelope as the service `product` at `host_id` writes it.
    fn error_of(host_id: &str, product: &str, rid: &str, e: &ApiError) -> Answer {
        let body = grantguard_wire::models::ErrorBody {
            request_id: rid.to_owned(),
            host_id: host_id.to_owned(),
            code: e.code.clone(),
            message: e.message.clone(),
            recommend: format!(
                "https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={rid}",
                e.code
            ),
        };
        Answer {
            status: e.status,
            content_type: "application/json;charset=utf-8",
            body: serde_json::to_vec(&body).unwrap_or_default(),
            error_code: Some(e.code.clone()),
            retry_after: e.code.starts_with("Throttling"),
            truncate: false,
            cut_after: None,
            oversize: None,
            raw: None,
            fault: None,
        }
    }

    /// The same answer, marked as carrying the injected fault `kind`.
    fn injected(mut self, kind: &str) -> Answer {
        self.fault = Some(match self.fault.take() {
            Some(earlier) => format!("{earlier}+{kind}"),
            None => kind.to_owned(),
        });
        self
    }
}

async fn entry(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let arrived = Instant::now();
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let rid = request_id();
    let now = shared.now();
    if metadata::is_metadata_path(uri.path()) {
        return metadata_entry(&shared, &method, uri.path(), now);
    }
    let request = Request::read(method, &uri, headers, &body);
    let mut record = request.record();
    // STS takes AssumeRoleWithOIDC unsigned: the OIDC token is the caller's proof.
    let anonymous = request.action == "AssumeRoleWithOIDC";
    let answer = if anonymous {
        json_answer(
            &rid,
            sts::assume_role_with_oidc(&shared.identity, &request.params, &rid, now),
        )
    } else {
        match authenticate(
            &shared,
            &request.method,
            uri.path(),
            &request.params,
            &request.query,
            &request.headers,
            &body,
            now,
            &mut record,
        ) {
            Err(e) => Answer::error(&shared, &rid, &e),
            Ok(()) => request.serve(&shared, &rid, now),
        }
    };

    let mut builder = Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", answer.content_type)
        .header("x-acs-request-id", rid.as_str())
        .header("date", http_date(now));
    if answer.retry_after {
        // docs/fault-model.md: the hint is 5 (the SDK reads it as milliseconds), so tests never wait long.
        builder = builder.header("x-acs-retry-after", HeaderValue::from_static("5"));
    }
    record.status = answer.status;
    record.error_code = answer.error_code.clone();
    if answer.fault.is_some() {
        record.fault = answer.fault.clone();
    }
    match answer.raw {
        Some(Raw::Drop) => {
            // Status 0 in the log: no answer was sent.
            conn.drop_now();
            shared.log.push(record);
            return Response::new(Body::empty());
        }
        Some(Raw::Hang) => {
            shared.log.push(record);
            let _held = StallGuard::new(&shared.stalls, &request.action, "hang", arrived);
            // Until the client gives up: hyper drops this future when the connection closes.
            return std::future::pending::<Response<Body>>().await;
        }
        Some(Raw::Trickle(_)) | None => {}
    }
    let response = shaped_response(&shared, &conn, builder, answer, &rid, &mut record, || {
        StallGuard::new(&shared.stalls, &request.action, "slowloris", arrived)
    });
    shared.log.push(record);
    response.unwrap_or_else(|_| Response::new(Body::empty()))
}

/// One decoded API request: its query, its parameters (query and form body) and its action.
struct Request {
    method: Method,
    headers: HeaderMap,
    query: Vec<(String, String)>,
    params: Params,
    /// `Action` (v1), else the `x-acs-action` header (v3).
    action: String,
}

impl Request {
    /// Decodes the query and, when the body is a form, its fields after the query's.
    fn read(method: Method, uri: &Uri, headers: HeaderMap, body: &[u8]) -> Request {
        let query = decode_pairs(uri.query().unwrap_or("").as_bytes());
        let mut pairs = query.clone();
        let is_form = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if is_form {
            pairs.extend(decode_pairs(body));
        }
        let params = Params { pairs };
        let action = params
            .get("Action")
            .map(str::to_owned)
            .or_else(|| header_of(&headers, "x-acs-action"))
            .unwrap_or_default();
        Request {
            method,
            headers,
            query,
            params,
            action,
        }
    }

    /// The log line of this call, before authentication and the answer fill in the rest.
    fn record(&self) -> CallRecord {
        let params = &self.params;
        CallRecord {
            time: log_time(OffsetDateTime::now_utc()),
            action: self.action.clone(),
            method: self.method.to_string(),
            group_id: params.get("GroupId").map(str::to_owned),
            api_id: params.get("ApiId").map(str::to_owned),
            stage_name: params.get("StageName").map(str::to_owned),
            backend_id: params.get("BackendId").map(str::to_owned),
            vpc_name: params
                .get("VpcName")
                .or(params.get("Name"))
                .map(str::to_owned),
            page_number: params.get("PageNumber").map(str::to_owned),
            signature_version: None,
            access_key_id: None,
            nonce: None,
            signature: None,
            status: 0,
            error_code: None,
            response_bytes: 0,
            fault: None,
        }
    }

    /// The answer to an authenticated request: STS's AssumeRole, or a CloudAPI action.
    fn serve(&self, shared: &Shared, rid: &str, now: OffsetDateTime) -> Answer {
        let version = (self.params.get("Version").map(str::to_owned))
            .or_else(|| header_of(&self.headers, "x-acs-version"));
        if self.action == "AssumeRole" {
            if let Some(answer) = sts_fault(shared, rid) {
                return answer;
            }
        } else {
            return serve_action(
                shared,
                &self.action,
                version.as_deref(),
                &self.params,
                rid,
                now,
            );
        }
        json_answer(
            rid,
            sts::assume_role(&shared.identity, &self.params, rid, now),
        )
    }
}

/// An STS answer: the JSON body, or STS's error envelope.
fn json_answer(rid: &str, result: Result<serde_json::Value, ApiError>) -> Answer {
    match result {
        Ok(body) => Answer {
            status: 200,
            content_type: "application/json;charset=utf-8",
            body: body.to_string().into_bytes(),
            error_code: None,
            retry_after: false,
            truncate: false,
            cut_after: None,
            oversize: None,
            raw: None,
            fault: None,
        },
        Err(e) => Answer::error_of("sts.aliyuncs.com", "Sts", rid, &e),
    }
}

/// A header's value as text, when present and visible ASCII.
fn header_of(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The response for an answer the connection carries to its end: trickled (`slowloris`,
/// holding the guard `stall` makes), oversized, cut by a reset, truncated, or whole. Records
/// the body bytes that leave in `record`.
fn shaped_response(
    shared: &Shared,
    conn: &Conn,
    builder: axum::http::response::Builder,
    answer: Answer,
    rid: &str,
    record: &mut CallRecord,
    stall: impl FnOnce() -> StallGuard,
) -> Result<Response<Body>, axum::http::Error> {
    let full = answer.body.len();
    if let Some(Raw::Trickle(interval)) = answer.raw {
        record.response_bytes = full as u64;
        builder
            .header("content-length", full.to_string())
            .body(trickled_body(answer.body, interval, stall()))
    } else if let Some((size, chunked)) = answer.oversize {
        record.response_bytes = size;
        let builder = if chunked {
            builder
        } else {
            builder.header("content-length", size.to_string())
        };
        builder.body(oversized_body(rid, size, shared.oversize_sent.clone()))
    } else if let Some(cut) = answer.cut_after {
        // R6: the cut is a real TCP RST, on this connection only.
        conn.reset_on_close();
        let head = Bytes::from(answer.body[..cut.min(full)].to_vec());
        record.response_bytes = head.len() as u64;
        builder
            .header("content-length", full.max(cut + 1).to_string())
            .body(cut_body(head))
    } else if answer.truncate {
        let half = Bytes::from(answer.body[..full / 2].to_vec());
        record.response_bytes = half.len() as u64;
        builder
            .header("content-length", full.to_string())
            .body(truncated_body(half))
    } else {
        record.response_bytes = full as u64;
        builder.body(Body::from(answer.body))
    }
}

/// The head and `half` the body, a pause so they reach the client, then a failed stream:
/// hyper closes the connection short of the promised Content-Length.
fn truncated_body(half: Bytes) -> Body {
    let chunks = futures::stream::unfold(Some(half), |state| async move {
        match state {
            Some(half) => Some((Ok(half), None)),
            None => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let cut = std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "truncated by fault injection",
                );
                Some((Err::<Bytes, _>(cut), None))
            }
        }
    });
    Body::from_stream(chunks)
}

/// A JSON object padded to exactly `size` bytes, streamed in 64 KiB chunks; every chunk handed
/// to the connection is counted in `sent`, so a test can tell how much the client pulled.
fn oversized_body(rid: &str, size: u64, sent: Arc<std::sync::atomic::AtomicU64>) -> Body {
    enum Phase {
        Head(String),
        Pad(u64),
    }
    const CHUNK: u64 = 64 * 1024;
    const TAIL: &[u8] = b"\"}";
    let head = format!("{{\"RequestId\":\"{rid}\",\"Padding\":\"");
    let pad = size.saturating_sub((head.len() + TAIL.len()) as u64);
    let chunks = futures::stream::unfold(Some(Phase::Head(head)), move |phase| {
        let sent = sent.clone();
        async move {
            let (bytes, next) = match phase? {
                Phase::Head(head) => (Bytes::from(head), Some(Phase::Pad(pad))),
                Phase::Pad(0) => (Bytes::from_static(TAIL), None),
                Phase::Pad(left) => {
                    let n = left.min(CHUNK);
                    (
                        Bytes::from(vec![b'x'; n as usize]),
                        Some(Phase::Pad(left - n)),
                    )
                }
            };
            sent.fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
            Some((Ok::<_, std::io::Error>(bytes), next))
        }
    });
    Body::from_stream(chunks)
}

/// `body`, one byte per `interval`, the first after one interval (slowloris: the head is
/// already out). `guard` records how long the connection held on to it.
fn trickled_body(body: Vec<u8>, interval: Duration, guard: StallGuard) -> Body {
    let chunks = futures::stream::unfold(
        (body, 0usize, guard),
        move |(body, at, mut guard)| async move {
            if at >= body.len() {
                return None;
            }
            tokio::time::sleep(interval).await;
            guard.bytes_sent += 1;
            let byte = Bytes::copy_from_slice(&body[at..at + 1]);
            Some((Ok::<_, std::io::Error>(byte), (body, at + 1, guard)))
        },
    );
    Body::from_stream(chunks)
}

/// `head`, then (once it has had time to reach the client) a failed stream: hyper gives the
/// connection up short of the promised Content-Length, and the caller has marked it to end
/// with a RST, as a reset mid-body does.
fn cut_body(head: Bytes) -> Body {
    let chunks = futures::stream::unfold(Some(head), |state| async move {
        match state {
            Some(head) => Some((Ok(head), None)),
            None => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let cut = std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by fault injection",
                );
                Some((Err::<Bytes, _>(cut), None))
            }
        }
    });
    Body::from_stream(chunks)
}

/// What a request's signature claims, whichever scheme signed it.
struct Claim {
    access_key_id: String,
    nonce: String,
    /// `Timestamp` (v1) or `x-acs-date` (v3).
    timestamp: String,
    security_token: Option<String>,
    string_to_sign: String,
    /// Whether the string to sign is checked with v1's HMAC-SHA1 (else ACS3's HMAC-SHA256).
    v1: bool,
    signature: String,
}

/// Checks a request's signature, credentials, security token, timestamp and nonce, in the
/// order the service reports them, recording what it learns in `record`.
#[allow(clippy::too_many_arguments)]
fn authenticate(
    shared: &Shared,
    method: &Method,
    path: &str,
    params: &Params,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
    record: &mut CallRecord,
) -> Result<(), ApiError> {
    let v3 = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .filter(|a| a.trim_start().starts_with(verify::V3_ALGORITHM));
    let claim = match v3 {
        Some(authorization) => v3_claim(authorization, method, path, query, headers, body, record)?,
        None => v1_claim(method, params, record)?,
    };
    let credential = credential_of(shared, &claim.access_key_id, now)?;
    check_security_token(shared, &credential, claim.security_token.as_deref(), record)?;
    check_timestamp(&claim.timestamp, now)?;

    let computed = if claim.v1 {
        verify::v1_signature(&credential.access_key_secret, &claim.string_to_sign)
    } else {
        verify::v3_signature(&credential.access_key_secret, &claim.string_to_sign)
    };
    if !verify::same_signature(&computed, &claim.signature) {
        return Err(ApiError::with_status(
            400,
            "SignatureDoesNotMatch",
            format!("Specified signature is not matched with our calculation. server string to sign is:{}", claim.string_to_sign),
        ));
    }

    if !lock(&shared.nonces).insert((claim.access_key_id, claim.nonce)) {
        return Err(ApiError::with_status(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(())
}

/// The claim of an ACS3-HMAC-SHA256 request: the `Authorization` header and the `x-acs-*`
/// headers, with the body's hash checked against `x-acs-content-sha256` when sent.
fn v3_claim(
    authorization: &str,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
    record: &mut CallRecord,
) -> Result<Claim, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    record.signature_version = Some(SignatureVersion::V3);
    let auth = verify::parse_v3_authorization(authorization).ok_or_else(|| {
        ApiError::with_status(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    })?;
    record.access_key_id = Some(auth.access_key_id.clone());
    record.signature = Some(auth.signature.clone());
    let nonce = header("x-acs-signature-nonce")
        .ok_or_else(|| ApiError::missing("x-acs-signature-nonce"))?;
    record.nonce = Some(nonce.clone());
    let date = header("x-acs-date").ok_or_else(|| ApiError::missing("x-acs-date"))?;
    let hashed = verify::payload_hash(body);
    if let Some(claimed) = header("x-acs-content-sha256") {
        if !claimed.eq_ignore_ascii_case(&hashed) {
            return Err(ApiError::with_status(
                400,
                "SignatureDoesNotMatch",
                "The x-acs-content-sha256 header does not match the request body.",
            ));
        }
    }
    let value_of = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    };
    let claimed = header("x-acs-content-sha256").unwrap_or(hashed);
    let string_to_sign = verify::v3_string_to_sign(
        method.as_str(),
        path,
        query,
        &auth.signed_headers,
        value_of,
        &claimed,
    );
    Ok(Claim {
        access_key_id: auth.access_key_id,
        nonce,
        timestamp: date,
        security_token: header("x-acs-security-token"),
        string_to_sign,
        v1: false,
        signature: auth.signature,
    })
}

/// The claim of a signature v1 request: the `Signature*`, `AccessKeyId` and `Timestamp`
/// parameters.
fn v1_claim(method: &Method, params: &Params, record: &mut CallRecord) -> Result<Claim, ApiError> {
    let Some(signature) = params
        .pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "Signature")
        .map(|(_, v)| v.clone())
    else {
        return Err(ApiError::with_status(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards. Signature is missing.",
        ));
    };
    record.signature_version = Some(SignatureVersion::V1);
    record.signature = Some(signature.clone());
    let ak = params
        .get("AccessKeyId")
        .ok_or_else(|| ApiError::missing("AccessKeyId"))?
        .to_owned();
    record.access_key_id = Some(ak.clone());
    let nonce = params
        .get("SignatureNonce")
        .ok_or_else(|| ApiError::missing("SignatureNonce"))?
        .to_owned();
    record.nonce = Some(nonce.clone());
    let timestamp = params
        .get("Timestamp")
        .ok_or_else(|| ApiError::missing("Timestamp"))?
        .to_owned();
    if params.get("SignatureMethod") != Some("HMAC-SHA1") {
        return Err(ApiError::invalid("SignatureMethod", "expected HMAC-SHA1"));
    }
    if params.get("SignatureVersion") != Some("1.0") {
        return Err(ApiError::invalid("SignatureVersion", "expected 1.0"));
    }
    Ok(Claim {
        access_key_id: ak,
        nonce,
        timestamp,
        security_token: params.get("SecurityToken").map(str::to_owned),
        string_to_sign: verify::v1_string_to_sign(method.as_str(), &params.pairs),
        v1: true,
        signature,
    })
}

/// The credential `access_key_id` names: the fixture's (or the environment's), or one the
/// emulator's STS or metadata service issued and that has not expired at `now`.
fn credential_of(
    shared: &Shared,
    access_key_id: &str,
    now: OffsetDateTime,
) -> Result<FixtureCredential, ApiError> {
    let issued = shared.identity.lookup(access_key_id);
    if issued.as_ref().is_some_and(|i| now >= i.expires_at) {
        return Err(ApiError::with_status(
            400,
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        ));
    }
    shared
        .credentials
        .iter()
        .find(|c| c.access_key_id == access_key_id)
        .cloned()
        .or(issued.map(|i| i.credential))
        .ok_or_else(|| {
            ApiError::with_status(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            )
        })
}

/// The security token sent must be the credential's own, and present exactly when it has
/// one; `--sts-expire-after N` expires every token after N token-bearing calls.
fn check_security_token(
    shared: &Shared,
    credential: &FixtureCredential,
    token: Option<&str>,
    record: &mut CallRecord,
) -> Result<(), ApiError> {
    match (&credential.security_token, token) {
        (Some(_), None) => {
            return Err(ApiError::with_status(
                400,
                "MissingSecurityToken",
                "SecurityToken is mandatory for this action.",
            ))
        }
        (Some(expected), Some(got)) if expected != got => {
            return Err(ApiError::with_status(
                400,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey.",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::with_status(
                400,
                "InvalidSecurityToken.Malformed",
                "Specified SecurityToken is malformed.",
            ))
        }
        _ => {}
    }
    if token.is_some() {
        let limit = lock(&shared.faults).faults().sts_expire_after;
        let seen = shared
            .token_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if limit.is_some_and(|n| seen >= n) {
            record.fault = Some("sts_expire_after".into());
            return Err(ApiError::with_status(
                400,
                "InvalidSecurityToken.Expired",
                "Specified SecurityToken is expired.",
            ));
        }
    }
    Ok(())
}

/// The request's timestamp must parse as RFC 3339 and lie within [`TIMESTAMP_WINDOW`] of
/// `now`.
fn check_timestamp(timestamp: &str, now: OffsetDateTime) -> Result<(), ApiError> {
    let at = OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            ApiError::with_status(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        })?;
    if (now - at).abs() > TIMESTAMP_WINDOW {
        return Err(ApiError::with_status(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    Ok(())
}

fn serve_action(
    shared: &Shared,
    action: &str,
    version: Option<&str>,
    params: &Params,
    rid: &str,
    now: OffsetDateTime,
) -> Answer {
    if action.is_empty() {
        return Answer::error(shared, rid, &ApiError::missing("Action"));
    }
    if let Some(v) = version {
        if v != grantguard_wire::VERSION {
            return Answer::error(
                shared,
                rid,
                &ApiError::with_status(
                    400,
                    "InvalidVersion",
                    format!("Specified parameter Version is not valid: {v}"),
                ),
            );
        }
    }
    if !handlers::ACTIONS.contains(&action) {
        return Answer::error(
            shared,
            rid,
            &ApiError::with_status(
                404,
                "InvalidAction.NotFound",
                format!("Specified api is not found, please check your url and method. Action: {action}"),
            ),
        );
    }

    let scopes: Vec<&str> = ["GroupId", "ApiId", "BackendId", "VpcName"]
        .iter()
        .filter_map(|k| params.get(k))
        .collect();
    let (corruption, oversize, reset, slow, then_drop) = {
        let mut faults = lock(&shared.faults);
        // One logical call is the request without what every attempt signs afresh.
        let mut call: Vec<&(String, String)> = params
            .pairs
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "Signature" | "SignatureNonce" | "Timestamp"))
            .collect();
        call.sort();
        let call = format!("{action}?{call:?}");
        match faults.decide(Instant::now(), &call) {
            Verdict::Throttle => {
                let e = ApiError::with_status(
                    400,
                    "Throttling.User",
                    "Request was denied due to user flow control.",
                );
                return Answer::error(shared, rid, &e).injected("throttle");
            }
            Verdict::Unavailable => {
                let e = ApiError::with_status(
                    503,
                    "ServiceUnavailable",
                    "The request has failed due to a temporary failure of the server.",
                );
                return Answer::error(shared, rid, &e).injected("unavailable");
            }
            Verdict::Pass => {}
        }
        if let Some(rule) = faults.forced_error(action, &scopes) {
            let e =
                ApiError::with_status(rule.status(), &rule.code, format!("Injected fault {rule}"));
            return Answer::error(shared, rid, &e).injected("fail");
        }
        if faults.hit(Counted::Hang, action, &scopes) {
            return Answer::raw(Raw::Hang).injected("hang");
        }
        if faults.hit(Counted::DropBeforeApply, action, &scopes) {
            return Answer::raw(Raw::Drop).injected("drop_before_apply");
        }
        (
            faults.corruption(action, &scopes),
            faults.oversize(action, &scopes),
            faults.reset(action, &scopes),
            faults.slowloris(action, &scopes),
            faults.hit(Counted::ApplyThenDrop, action, &scopes),
        )
    };

    let call = HookCall {
        action: action.to_owned(),
        params: params.pairs.clone(),
        nth: {
            let mut served = lock(&shared.served);
            let n = served.entry(action.to_owned()).or_insert(0);
            *n += 1;
            *n
        },
    };
    let result = {
        let mut hooks = lock(&shared.hooks);
        let mut account = lock(&shared.account);
        run_hooks(&mut hooks, When::Before, &call, &mut account);
        let ctx = Ctx {
            request_id: rid.to_owned(),
            now: iso(now),
        };
        let result = handlers::handle(&mut account, action, params, &ctx);
        run_hooks(&mut hooks, When::After, &call, &mut account);
        result
    };
    if then_drop {
        // Applied (or refused) by the handler above; the client never learns which.
        return Answer::raw(Raw::Drop).injected("apply_then_drop");
    }
    let mut value = match result {
        Ok(v) => v,
        Err(e) => return Answer::error(shared, rid, &e),
    };
    if let Some(map) = value.as_object_mut() {
        map.insert("RequestId".into(), rid.into());
    }
    let ok = |body: Vec<u8>, content_type, truncate| {
        let mut answer = Answer {
            status: 200,
            content_type,
            body,
            error_code: None,
            retry_after: false,
            truncate,
            cut_after: reset.then_some(512),
            oversize,
            raw: slow.map(Raw::Trickle),
            fault: None,
        };
        // What shaped_response will really do: a trickle wins over an oversized body, which
        // replaces the (possibly corrupted) body and wins over a reset.
        let applied = [
            (
                corruption.is_some() && (slow.is_some() || oversize.is_none()),
                "corrupt",
            ),
            (slow.is_some(), "slowloris"),
            (slow.is_none() && oversize.is_some(), "oversize"),
            (slow.is_none() && oversize.is_none() && reset, "reset"),
        ];
        for (on, kind) in applied {
            if on {
                answer = answer.injected(kind);
            }
        }
        answer
    };
    match corruption {
        None => ok(serde_json::to_vec(&value).unwrap_or_default(), "application/json;charset=utf-8", false),
        Some(Corruption::TruncatedJson) => {
            ok(serde_json::to_vec(&value).unwrap_or_default(), "application/json;charset=utf-8", true)
        }
        Some(Corruption::Html) => ok(
            format!(
                "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>{rid}</p></body></html>"
            )
            .into_bytes(),
            "text/html;charset=utf-8",
            false,
        ),
        Some(Corruption::WrongType) => {
            faults::mistype(&mut value);
            ok(serde_json::to_vec(&value).unwrap_or_default(), "application/json;charset=utf-8", false)
        }
        Some(Corruption::MalformedJson) => {
            let text = serde_json::to_string(&value).unwrap_or_default();
            // Cut on a character boundary, so the client sees bad JSON, not bad UTF-8.
            let mut half = text.len() / 2;
            while !text.is_char_boundary(half) {
                half -= 1;
            }
            ok(text.as_bytes()[..half].to_vec(), "application/json;charset=utf-8", false)
        }
    }
}

fn run_hooks(
    hooks: &mut [(When, String, Hook)],
    when: When,
    call: &HookCall,
    account: &mut Account,
) {
    for (w, action, hook) in hooks.iter_mut() {
        if *w == when && *action == call.action {
            hook(call, account);
        }
    }
}

#[cfg(test)]
mod tests;
