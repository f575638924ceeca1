// JSON names: `rename_all` on the struct, `rename` on a field and on a request parameter,
// raw identifiers, and `Self` in a field type.
use jazz_req::cojson::ResolveQuery;
use jazz_req::prelude::*;
use serde_json::json;

#[derive(CoMap, Debug)]
#[co(rename_all = "camelCase")]
pub struct Profile {
    pub display_name: String,
    #[co(rename = "avatar_url")]
    pub avatar: Option<String>,
    pub r#type: String,
    pub best_friend: Option<Ref<Self>>,
}

#[derive(CoMap, Debug)]
#[co(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct Saved {
    pub profile_id: Ref<Profile>,
}

#[jazz_request(
    url = "/api/save-profile",
    resolve = { profile: { best_friend: true } },
)]
async fn save_profile(
    _ctx: RequestContext,
    #[co(rename = "theProfile")] profile: Ref<Profile>,
) -> Result<Saved, JazzRequestError> {
    Ok(Saved { profile_id: profile })
}

fn main() {
    let fields: Vec<_> = Profile::FIELDS.iter().map(|f| (f.rust, f.json)).collect();
    assert_eq!(
        fields,
        [
            ("display_name", "displayName"),
            ("avatar", "avatar_url"),
            ("type", "type"),
            ("best_friend", "bestFriend"),
        ]
    );
    assert_eq!(Saved::FIELDS[0].json, "PROFILE_ID");
    // Resolve keys are Rust names; the query carries the JSON names.
    assert_eq!(
        SaveProfile::request_resolve(),
        ResolveQuery::from_json(&json!({ "theProfile": { "bestFriend": true } })).unwrap()
    );
}
