//! Sends signed bodies to a worker with a fixed number in flight, and sums up the answers.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::LoadError;

/// The route a run drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/echo` with `{text, n, flag, note?}`.
    Echo,
    /// `POST /api/book-event-ticket` with `{event}`.
    Book,
}

impl Route {
    /// The URL path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Echo => "/api/echo",
            Self::Book => "/api/book-event-ticket",
        }
    }

    /// The short name (`echo`, `book`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Echo => "echo",
            Self::Book => "book",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A route name that is neither `echo` nor `book`.
#[derive(Debug, thiserror::Error)]
#[error("expected `echo` or `book`, got {0:?}")]
pub struct UnknownRoute(String);

impl FromStr for Route {
    type Err = UnknownRoute;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "echo" => Ok(Self::Echo),
            "book" => Ok(Self::Book),
            other => Err(UnknownRoute(other.to_owned())),
        }
    }
}

/// One answer.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The status (`"200-not-success"` for a 200 that is not a success body); `None` when
    /// the request failed at the transport level.
    pub status: Option<String>,
    /// From sending the request to the end of the answer's body.
    pub latency: Duration,
    /// The start of the body, or the transport error.
    pub detail: String,
}

/// Sends bodies to one route of one worker, keeping its connections between calls.
pub struct Driver {
    http: reqwest::Client,
    url: String,
    in_flight: usize,
}

impl Driver {
    /// A driver of `route` at `base_url` (`http://host:port`) with `in_flight` requests in
    /// flight (at least one).
    ///
    /// # Errors
    /// [`LoadError::Http`] when the HTTP client cannot be made.
    pub fn new(base_url: &str, route: Route, in_flight: usize) -> Result<Self, LoadError> {
        let in_flight = in_flight.max(1);
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(in_flight)
            .build()?;
        Ok(Self {
            http,
            url: format!("{}{}", base_url.trim_end_matches('/'), route.path()),
            in_flight,
        })
    }

    /// Sends every body, each task sending the next body as soon as its previous answer is
    /// in, and returns the answers.
    pub async fn drive(&self, bodies: Vec<String>) -> Vec<Sent> {
        let bodies = Arc::new(bodies);
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::with_capacity(self.in_flight);
        for _ in 0..self.in_flight {
            let (http, url, bodies, next) = (
                self.http.clone(),
                self.url.clone(),
                bodies.clone(),
                next.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else {
                        break;
                    };
                    sent.push(send(&http, &url, body.clone()).await);
                }
                sent
            }));
        }
        let mut all = Vec::with_capacity(bodies.len());
        for task in tasks {
            match task.await {
                Ok(sent) => all.extend(sent),
                Err(error) => all.push(Sent {
                    status: None,
                    latency: Duration::ZERO,
                    detail: format!("a sending task failed: {error}"),
                }),
            }
        }
        all
    }

    /// [`Driver::drive`], timed: the answers summed up over the wall-clock time it took.
    pub async fn drive_timed(&self, bodies: Vec<String>) -> (Summary, Vec<Sent>) {
        let started = Instant::now();
        let sent = self.drive(bodies).await;
        (Summary::of(&sent, started.elapsed()), sent)
    }
}

async fn send(http: &reqwest::Client, url: &str, body: String) -> Sent {
    let started = Instant::now();
    let reply = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let (status, detail) = match reply {
        Ok(reply) => {
            let status = reply.status().as_u16();
            match reply.bytes().await {
                Ok(bytes) => {
                    let success = bytes.starts_with(b"{\"type\":\"success\"");
                    let status = match (status, success) {
                        (200, false) => "200-not-success".to_owned(),
                        (status, _) => status.to_string(),
                    };
                    let detail = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]);
                    (Some(status), detail.into_owned())
                }
                Err(error) => (None, error.to_string()),
            }
        }
        Err(error) => (None, error.to_string()),
    };
    Sent {
        status,
        latency: started.elapsed(),
        detail,
    }
}

/// Throughput, latency percentiles and status counts of a run.
#[derive(Clone, Debug)]
pub struct Summary {
    /// How many answers.
    pub requests: usize,
    /// The wall-clock time of the run.
    pub seconds: f64,
    /// `requests / seconds`.
    pub requests_per_second: f64,
    /// Latency percentiles, in ms.
    pub p50_ms: f64,
    /// The 90th percentile.
    pub p90_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The slowest.
    pub max_ms: f64,
    /// How many answers had each status (see [`Sent::status`]).
    pub statuses: BTreeMap<String, usize>,
    /// How many requests failed at the transport level.
    pub transport_errors: usize,
    /// The first answer that was not a 200 success, if any.
    pub first_failure: Option<Sent>,
}

impl Summary {
    /// Sums up `sent`, answered within `elapsed`.
    pub fn of(sent: &[Sent], elapsed: Duration) -> Self {
        let mut latencies: Vec<Duration> = sent.iter().map(|r| r.latency).collect();
        latencies.sort();
        let at = |q: f64| {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )] // an index into the list, clamped
            let index =
                ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
            latencies
                .get(index)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        let mut transport_errors = 0;
        for result in sent {
            match &result.status {
                Some(status) => *statuses.entry(status.clone()).or_default() += 1,
                None => transport_errors += 1,
            }
        }
        let seconds = elapsed.as_secs_f64();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^53
        let requests_per_second = if seconds > 0.0 {
            sent.len() as f64 / seconds
        } else {
            0.0
        };
        Self {
            requests: sent.len(),
            seconds,
            requests_per_second,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            statuses,
            transport_errors,
            first_failure: sent
                .iter()
                .find(|r| r.status.as_deref() != Some("200"))
                .cloned(),
        }
    }

    /// How many answers were a 200 success.
    pub fn successes(&self) -> usize {
        self.statuses.get("200").copied().unwrap_or(0)
    }

    /// Whether every answer was a 200 success.
    pub fn all_ok(&self) -> bool {
        self.successes() == self.requests
    }

    /// The figures as JSON: `{"requests","seconds","requestsPerSecond","p50Ms","p90Ms",
    /// "p99Ms","maxMs","statuses":{"200":n,…},"transportErrors"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "requests": self.requests,
            "seconds": self.seconds,
            "requestsPerSecond": self.requests_per_second,
            "p50Ms": self.p50_ms,
            "p90Ms": self.p90_ms,
            "p99Ms": self.p99_ms,
            "maxMs": self.max_ms,
            "statuses": self.statuses,
            "transportErrors": self.transport_errors,
        })
    }
}
