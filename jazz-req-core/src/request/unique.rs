//! Unique CoValues in a handler: [`RequestContext::load_unique`],
//! [`RequestContext::get_or_create_unique`], [`RequestContext::upsert_unique`] and
//! [`RequestContext::get_or_create_unique_list`], as jazz-tools' `internalLoadUnique` does
//! them: look for the value through the worker's peers first (its store, then its sync
//! server, never with the node's lock held), and create or update it only once that found
//! nothing — inside one node transaction that reads the node again, so two requests of
//! this worker asking at once create it once, and what the handler wrote is synced before
//! its answer leaves.

use super::error::JazzRequestError;
use super::handler::RequestContext;
use super::sync_peer::PeerLoadError;
use crate::cojson::{ResolveQuery, Uniqueness};
use crate::crypto::CoID;
use crate::schema::{
    AccountOrGroup, CoField, CoList, CoListResolve, CoMapSchema, EACH, Loaded, ResolveBuilder,
    UniqueMode, read_list, read_loaded, unique_id,
};

impl RequestContext {
    /// Whether the worker holds `id` once what `query` reaches from it is loaded from its
    /// store, else its sync server (a value found but not fully readable counts: reading it
    /// tells why).
    async fn find(&self, id: &CoID, query: &ResolveQuery) -> Result<bool, JazzRequestError> {
        match self.worker.load_through_peers(id, query).await {
            Ok(()) => Ok(true),
            Err(PeerLoadError::NotFound(_)) => Ok(self.worker.lock_node()?.get(id).is_some()),
            Err(error) => Err(error.to_request_error()),
        }
    }

    /// Reads the unique `T` owned by `owner` with the key `unique` (see
    /// [`unique_id`](crate::schema::unique_id)), loading what `resolve` names from the
    /// worker's store, else its sync server; `None` when neither has it (jazz-tools'
    /// `CoMap.loadUnique`).
    ///
    /// ```no_run
    /// # use jazz_req_core::request::{JazzRequestError, RequestContext};
    /// # use jazz_req_core::schema::{CoMapSchema, Group, Loaded};
    /// # async fn handler<Settings: CoMapSchema>(ctx: RequestContext, group: Group) -> Result<(), JazzRequestError> {
    /// // `Settings` is a `#[derive(CoMap)]` struct.
    /// let settings: Option<Loaded<Settings>> =
    ///     ctx.load_unique("user-settings", &group, Settings::resolve()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// 503 when the sync server cannot be reached; 500 when the store fails or the value
    /// exists but does not read as `T` with `resolve`.
    pub async fn load_unique<T: CoMapSchema>(
        &self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
        resolve: impl ResolveBuilder,
    ) -> Result<Option<Loaded<T>>, JazzRequestError> {
        let id = unique_id::<T>(unique, owner);
        let query = resolve.into_query();
        if !self.find(&id, &query).await? {
            return Ok(None);
        }
        let node = self.worker.lock_node()?;
        Ok(Some(read_loaded(&node, &id, &query)?))
    }

    /// The unique `T` owned by `owner` with the key `unique`, read with `resolve`: found
    /// through the worker's peers (store, then sync server) and returned as it is, or — when
    /// nobody has it — created holding `value` with its init marked first-writer-wins
    /// (jazz-tools' `CoMap.getOrCreateUnique`). When a jazz-tools peer or another worker
    /// created it too, each before seeing the other, every peer keeps the init written
    /// first, this one included, once the two meet.
    ///
    /// The creation runs as one [`RequestContext::transaction`]: the request's answer waits
    /// until the sync server has it, and a creation whose `resolve` cannot be read is
    /// undone.
    ///
    /// ```no_run
    /// # use jazz_req_core::request::{JazzRequestError, RequestContext};
    /// # use jazz_req_core::schema::{CoMapSchema, Group, Loaded};
    /// # async fn handler<Settings: CoMapSchema>(ctx: RequestContext, team: Group, defaults: Settings) -> Result<(), JazzRequestError> {
    /// // `Settings` is a `#[derive(CoMap)]` struct; one per sender, in a group the worker
    /// // may write (`team`).
    /// let key = format!("settings-of-{}", ctx.made_by());
    /// let settings: Loaded<Settings> = ctx
    ///     .get_or_create_unique(key.as_str(), &team, defaults, Settings::resolve())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// 403 when it must be created and the worker may not write to `owner`; 503 when the
    /// sync server cannot be reached; 500 when the owner cannot be found, the store fails,
    /// or the value does not read as `T` with `resolve`.
    pub async fn get_or_create_unique<T: CoMapSchema>(
        &self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
        value: T,
        resolve: impl ResolveBuilder,
    ) -> Result<Loaded<T>, JazzRequestError> {
        self.change_unique(
            unique.into(),
            owner,
            value,
            resolve.into_query(),
            UniqueMode::GetOrCreate,
        )
        .await
    }

    /// Like [`RequestContext::get_or_create_unique`], but a value found is updated to
    /// `value`: the fields whose JSON differs are written (an optional field set to `None`
    /// is deleted), in one transaction (jazz-tools' `CoMap.upsertUnique`; a value it creates
    /// is not marked first-writer-wins, as there).
    ///
    /// # Errors
    /// As [`RequestContext::get_or_create_unique`]; also 403 when the value exists and the
    /// worker may not write to it.
    pub async fn upsert_unique<T: CoMapSchema>(
        &self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
        value: T,
        resolve: impl ResolveBuilder,
    ) -> Result<Loaded<T>, JazzRequestError> {
        self.change_unique(
            unique.into(),
            owner,
            value,
            resolve.into_query(),
            UniqueMode::Upsert,
        )
        .await
    }

    async fn change_unique<T: CoMapSchema>(
        &self,
        unique: Uniqueness,
        owner: &impl AccountOrGroup,
        value: T,
        query: ResolveQuery,
        mode: UniqueMode,
    ) -> Result<Loaded<T>, JazzRequestError> {
        let id = unique_id::<T>(unique.clone(), owner);
        let found = self.find(&id, &query).await?;
        if found && mode == UniqueMode::GetOrCreate {
            let node = self.worker.lock_node()?;
            return Ok(read_loaded(&node, &id, &query)?);
        }
        if !found {
            // Creating needs the owner (its read key); a missing one fails the creation.
            self.find(owner.owner_id(), &ResolveQuery::Value).await?;
        }
        self.transaction(|tx| {
            let made = tx.create_or_change_unique(unique, owner, value, mode)?;
            Ok(read_loaded(tx.node(), made.id(), &query)?)
        })
    }

    /// Reads the unique list of `T`s owned by `owner` with the key `unique`, its items with
    /// what `resolve` names, through the worker's peers; `None` when nobody has it
    /// (jazz-tools' `CoList.loadUnique`).
    ///
    /// # Errors
    /// As [`RequestContext::load_unique`].
    pub async fn load_unique_list<T: CoField>(
        &self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
        resolve: CoListResolve<T>,
    ) -> Result<Option<CoList<T>>, JazzRequestError> {
        let id = unique_id::<CoList<T>>(unique, owner);
        let query = resolve.into_query();
        if !self.find(&id, &query).await? {
            return Ok(None);
        }
        let node = self.worker.lock_node()?;
        Ok(Some(read_list(&node, &id, each(&query))?))
    }

    /// The unique list of `T`s owned by `owner` with the key `unique`: found through the
    /// worker's peers, or created holding `items` with its init marked first-writer-wins
    /// (jazz-tools' `CoList.getOrCreateUnique`), in one transaction; its items read with
    /// what `resolve` names.
    ///
    /// # Errors
    /// As [`RequestContext::get_or_create_unique`].
    pub async fn get_or_create_unique_list<T: CoField>(
        &self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
        items: Vec<T>,
        resolve: CoListResolve<T>,
    ) -> Result<CoList<T>, JazzRequestError> {
        let unique = unique.into();
        let id = unique_id::<CoList<T>>(unique.clone(), owner);
        let query = resolve.into_query();
        if self.find(&id, &query).await? {
            let node = self.worker.lock_node()?;
            return Ok(read_list(&node, &id, each(&query))?);
        }
        // Creating needs the owner (its read key); a missing one fails the creation.
        self.find(owner.owner_id(), &ResolveQuery::Value).await?;
        self.transaction(|tx| {
            let made = tx.get_or_create_unique_list(unique, owner, items)?;
            Ok(read_list(tx.node(), made.id(), each(&query))?)
        })
    }
}

/// What a list's query asks of each item.
fn each(query: &ResolveQuery) -> Option<&ResolveQuery> {
    match query {
        ResolveQuery::Value => None,
        ResolveQuery::Fields(fields) => {
            fields.iter().find(|(name, _)| name == EACH).map(|(_, q)| q)
        }
    }
}
