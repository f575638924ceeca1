//! What a client's own reads and imports say when they fail (issue 17, item 4): the CoValue,
//! and which of three things is wrong — not loaded in the client's node, not readable by its
//! account, or not of the schema asked for — never "the response does not fit its schema"
//! for a local load; a map the account cannot decrypt is "not readable", not a map missing
//! its fields; and pieces that wait for a CoValue that was not given name it instead of
//! importing "successfully".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req::prelude::*;
use jazz_req::request::Waiting;
use jazz_req_tests::people::person;
use serde_json::Value;

/// A ballot (`co.map({ voter: co.account(), choice: z.number() })`).
#[derive(CoMap, Debug)]
pub struct Ballot {
    /// Who voted.
    pub voter: Account,
    /// For what.
    pub choice: u32,
}

/// A poll pointing at its last ballot.
#[derive(CoMap, Debug)]
pub struct Poll {
    /// The question.
    pub question: String,
    /// The last ballot cast.
    pub last: Ref<Ballot>,
}

/// An app made by its owner: a poll everyone may read, whose last ballot is in a group only
/// the owner reads, and a ballot everyone may read.
struct App {
    owner: LocalNode,
    poll: CoID,
    secret_ballot: CoID,
    open_ballot: CoID,
    open_group: CoID,
}

fn app() -> App {
    let mut owner = person("Owner").unwrap();
    let me = Account::new(owner.account.clone());
    let (poll, secret_ballot, open_ballot, open_group) = owner
        .node
        .batch(|node| {
            let mut tx = Tx::new(node);
            let open = tx.create_group()?;
            tx.add_member(&open, Member::Everyone, Role::Reader)?;
            let closed = tx.create_group()?;
            let secret = tx.create(
                &closed,
                Ballot {
                    voter: me.clone(),
                    choice: 2,
                },
            )?;
            let shown = tx.create(
                &open,
                Ballot {
                    voter: me.clone(),
                    choice: 1,
                },
            )?;
            let poll = tx.create(
                &open,
                Poll {
                    question: "Tabs?".into(),
                    last: secret.to_ref(),
                },
            )?;
            Ok((
                poll.id().clone(),
                secret.id().clone(),
                shown.id().clone(),
                open.id().clone(),
            ))
        })
        .unwrap();
    App {
        owner: owner.node,
        poll,
        secret_ballot,
        open_ballot,
        open_group,
    }
}

impl App {
    /// `id` and what it depends on (its group, the owner's account), as exported.
    fn pieces(&self, id: &CoID) -> Vec<Value> {
        self.owner.export_json(id, &ResolveQuery::Value).unwrap()
    }
}

/// A client of another account, holding `pieces`.
fn client(pieces: &[Value]) -> RequestClient {
    let (node, _) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Reader").unwrap();
    let client = RequestClient::new(node);
    client.import_pieces(pieces).unwrap();
    client
}

/// A local load's message never blames a response.
fn local(error: &ClientLoadError) -> String {
    let text = error.to_string();
    assert!(!text.contains("response"), "{text}");
    text
}

#[test]
fn a_covalue_not_imported_is_not_loaded_here() {
    let app = app();
    let client = client(&[]);
    let error = client.load::<Poll>(&app.poll, Poll::resolve()).unwrap_err();
    assert!(
        matches!(&error, ClientLoadError::NotLoaded(id) if id == &app.poll),
        "{error:?}"
    );
    let text = local(&error);
    assert!(text.contains(app.poll.as_str()) && text.contains("not loaded in the client's node"));
    assert!(text.contains("import_pieces"), "says what to do: {text}");

    // The poll is there, the ballot its resolve names is not: that one is named.
    let client = self::client(&app.pieces(&app.poll));
    client.load::<Poll>(&app.poll, Poll::resolve()).unwrap();
    let error = client
        .load::<Poll>(&app.poll, Poll::resolve().last(|b| b))
        .unwrap_err();
    assert!(
        matches!(&error, ClientLoadError::NotLoaded(id) if id == &app.secret_ballot),
        "{error:?}"
    );
}

#[test]
fn a_map_the_account_cannot_decrypt_is_not_readable_rather_than_missing_fields() {
    let app = app();
    let mut pieces = app.pieces(&app.secret_ballot);
    pieces.extend(app.pieces(&app.open_ballot));
    pieces.extend(app.pieces(&app.poll));
    let client = client(&pieces);

    // Alone.
    let error = client
        .load::<Ballot>(&app.secret_ballot, Ballot::resolve())
        .unwrap_err();
    let ClientLoadError::NotReadable {
        covalue,
        unreadable,
    } = &error
    else {
        panic!("not `NotReadable`: {error:?}");
    };
    assert_eq!(covalue, &app.secret_ballot);
    assert!(*unreadable > 0);
    let text = local(&error);
    assert!(text.contains("not readable by this account"), "{text}");
    assert!(!text.contains("missing"), "{text}");

    // Below a map the account reads: the unreadable one is named.
    let error = client
        .load::<Poll>(&app.poll, Poll::resolve().last(|b| b))
        .unwrap_err();
    assert!(
        matches!(&error, ClientLoadError::NotReadable { covalue, .. } if covalue == &app.secret_ballot),
        "{error:?}"
    );

    // The same schema in a group everyone reads loads (the owner reads both).
    let open = client
        .load::<Ballot>(&app.open_ballot, Ballot::resolve())
        .unwrap();
    assert_eq!(open.choice, 1);
    let owner = RequestClient::new(app.owner);
    assert_eq!(
        owner
            .load::<Ballot>(&app.secret_ballot, Ballot::resolve())
            .unwrap()
            .choice,
        2
    );
}

#[test]
fn a_readable_map_of_another_shape_does_not_fit_the_schema_asked_for() {
    let app = app();
    let client = client(&app.pieces(&app.poll));
    let error = client
        .load::<Ballot>(&app.poll, Ballot::resolve())
        .unwrap_err();
    let ClientLoadError::Schema {
        covalue,
        schema,
        source,
    } = &error
    else {
        panic!("not `Schema`: {error:?}");
    };
    assert_eq!((covalue, *schema), (&app.poll, "Ballot"));
    assert!(
        matches!(**source, SchemaError::Missing { .. }),
        "{source:?}"
    );
    let text = local(&error);
    assert!(text.contains("does not fit the schema Ballot"), "{text}");
    // Through `?` into a `SendError`, it is the same message.
    let sent: SendError = error.into();
    assert_eq!(sent.to_string(), text);
}

#[test]
fn pieces_that_wait_for_a_covalue_not_given_name_it() {
    let app = app();
    let all = app.pieces(&app.open_ballot);
    let (group, rest): (Vec<Value>, Vec<Value>) = all
        .into_iter()
        .partition(|piece| piece["id"].as_str() == Some(app.open_group.as_str()));
    assert!(!group.is_empty() && !rest.is_empty());

    let (node, _) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Reader").unwrap();
    let client = RequestClient::new(node);
    let error = client.import_pieces(&rest).unwrap_err();
    let ImportError::Waiting(waiting) = &error else {
        panic!("not `Waiting`: {error:?}");
    };
    assert_eq!(
        waiting,
        &[Waiting {
            covalue: app.open_ballot.clone(),
            missing: vec![app.open_group.clone()],
        }]
    );
    let text = error.to_string();
    assert!(
        text.contains(app.open_ballot.as_str()) && text.contains(app.open_group.as_str()),
        "{text}"
    );
    assert!(matches!(
        client.load::<Ballot>(&app.open_ballot, Ballot::resolve()),
        Err(ClientLoadError::NotLoaded(_))
    ));

    // What it waited for arrives: the queued pieces apply.
    client.import_pieces(&group).unwrap();
    let ballot = client
        .load::<Ballot>(&app.open_ballot, Ballot::resolve())
        .unwrap();
    assert_eq!(ballot.choice, 1);

    // A piece that is not content is named by its place.
    let error = client
        .import_pieces(&[serde_json::json!({"action": "content"})])
        .unwrap_err();
    assert!(
        matches!(error, ImportError::NotAPiece { index: 0, .. }),
        "{error:?}"
    );
}
