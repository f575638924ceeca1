//! jazz-req: HTTP requests with server workers for Jazz apps, in Rust.
//!
//! A TypeScript Jazz client can call a Rust worker and a Rust client a TypeScript worker:
//! the bytes on the wire are exactly those of jazz-tools / cojson 0.20.19.
//!
//! ```no_run
//! use jazz_req::prelude::*;
//!
//! /// A greeting (the response schema: a `co.map`).
//! #[derive(CoMap, Debug)]
//! pub struct Greeting {
//!     pub text: String,
//! }
//!
//! /// `POST /api/greet`: greets the sender by the name it sends. Every parameter after
//! /// `ctx` is a field of the request.
//! #[jazz_request(url = "/api/greet")]
//! pub async fn greet(ctx: RequestContext, name: String) -> Result<Greeting, JazzRequestError> {
//!     Ok(Greeting { text: format!("Hello {name}, you are {}", ctx.made_by()) })
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // The worker: JAZZ_WORKER_ACCOUNT / JAZZ_WORKER_SECRET, from
//!     // `jazz-req account create --store …`.
//!     let worker = WorkerOptions::from_env()?.start().await?.register(Greet);
//!     let server = spawn_server("127.0.0.1:8080".parse()?, worker.clone()).await?;
//!
//!     // A client: any Jazz account, holding the worker's account (a request is made for
//!     // it), handed over as a bundle of content pieces (see `WorkerOptions::create_account`
//!     // for a whole worker without a sync server).
//!     let for_clients = worker.client_bundle().build()?;
//!     let (node, _me) = LocalNode::create_account(new_random_agent_secret()?, "Ada")?;
//!     let client = for_clients.client(node, format!("http://{}", server.addr()))?;
//!
//!     let greeting = Greet::send(&client, "Ada".to_owned()).await?;
//!     println!("{}", greeting.text);
//!     // The same request with its fields named:
//!     let greeting = Greet::send_request(&client, GreetRequest { name: "Ada".into() }).await?;
//!     println!("{}", greeting.text);
//!
//!     // A graceful stop: requests in flight answered, then what is left stored.
//!     server.shutdown().await?;
//!     worker.shutdown().await?;
//!     Ok(())
//! }
//! ```
//!
//! - [`prelude`]: the derives (`CoMap`, `CoEnum`), the attribute (`jazz_request`), the
//!   schema types ([`schema::Ref`], [`schema::Loaded`], [`schema::CoList`], …), the worker,
//!   the client and the errors.
//! - [`schema`]: typed CoValues on the local node: reading, writing ([`schema::Tx`]),
//!   resolve queries.
//! - [`request`]: the protocol — [`request::RequestWorker`] answers `http::Request`s (or
//!   serves them with [`request::spawn_server`] — slow, idle and too many clients held to
//!   the limits of [`request::ServeOptions`], stopped gracefully through its
//!   [`request::ServerHandle`] — or mounts as a tower service), [`request::RequestClient`]
//!   sends; [`request::JazzRequestError`] is the typed error both sides see. Writes through
//!   the worker outside a request ([`request::RequestWorker::transaction`],
//!   [`request::RequestWorker::with_node`]) are durable when they return; a worker with no
//!   sync server hands its clients what they need as a [`request::ClientBundle`]
//!   ([`WorkerOptions::create_account`] shows the whole recipe).
//! - [`cojson`]: the CoValue engine (a local node of verified CoValues: groups, accounts,
//!   maps, lists, permissions, keys).
//! - [`storage`]: the embedded SQLite store (the default) and an in-memory one.
//! - [`crypto`], [`auth_token`]: Jazz's cryptography and `Authorization: Jazz …` tokens.

pub use jazz_req_core::{auth_token, cojson, crypto, request, schema, storage, sync};

pub use jazz_req_core::cojson::permissions_role::Role;
pub use jazz_req_macros::{CoEnum, CoMap, jazz_request};

mod worker_options;
pub use worker_options::{DEFAULT_STORE, WorkerOptions, WorkerStartError};

/// What most workers and clients use: the schema types, the route runtime and the errors.
pub mod prelude {
    pub use crate::Role;
    pub use crate::cojson::{LocalNode, NodeError, ResolveQuery, Uniqueness};
    pub use crate::crypto::random::new_random_agent_secret;
    pub use crate::crypto::{AgentSecret, CoID};
    pub use crate::request::{
        ClientBundle, ClientLoadError, ImportError, JazzRequestError, RequestClient,
        RequestContext, RequestWorker, Route, RouteSpec, SendError, ServeOptions, ServerHandle,
        WorkerWriteError, spawn_server, spawn_server_with,
    };
    pub use crate::schema::{
        Account, AccountOrGroup, CoEnum, CoField, CoList, CoMapSchema, Group, Json, Loaded, Member,
        Ref, ResolveBuilder, SchemaError, Tx, UniqueError, unique_id,
    };
    pub use crate::storage::{MemoryStorage, SqliteStorage, Storage};
    pub use crate::{WorkerOptions, WorkerStartError};
    pub use jazz_req_macros::{CoEnum, CoMap, jazz_request};
}

/// What the code `#[derive(CoMap)]`, `#[derive(CoEnum)]` and `#[jazz_request]` generate
/// reaches the runtime through. Not a public API: it changes with the macros.
#[doc(hidden)]
pub mod __private {
    pub use jazz_req_core::cojson::ResolveQuery;
    pub use jazz_req_core::request::{
        JazzRequestError, RequestClient, RequestContext, Route, SendError, WorkerRef,
    };
    pub use jazz_req_core::schema::{
        Account, CoEnum, CoField, CoList, CoListResolve, CoMapSchema, EachItems, FieldInfo,
        FieldSite, Group, Json, LeafResolve, Loaded, MapReader, MapWriter, NotAReference, Ref,
        ResolveBuilder, ResolveFields, SameOwnerField, SchemaError, SerializeKey, descend,
        enum_read_field, enum_write_field,
    };
    pub use jazz_req_macros::{CoEnum, CoMap};
    pub use serde_json::Value;
}
