//! Agent desktops that vouch for their agent, so that the desktop itself
//! can open a call's cue view ([`crate::embed`]) without a link made in
//! advance: a Genesys Cloud user's OAuth token, or a Twilio Flex token.
//!
//! `POST /embed/link` with `Authorization: Bearer <token>` and
//! `{"platform":"genesys"|"flex","call":"<platform call id>"}` answers a
//! signed link to that call's view for the agent the platform names. The
//! platform decides, never the request:
//!
//! * **Genesys Cloud**: `GET {genesys_api}/api/v2/users/me` names the user
//!   (a bad token: 401), then `GET /api/v2/conversations/{id}` must list
//!   that user among its participants (otherwise 403): an agent opens only
//!   the conversations they are on.
//! * **Twilio Flex**: the token is validated as `twilio-flex-token-validator`
//!   does, by `POST {flex_api}/v1/Accounts/{sid}/Tokens/validate` with the
//!   account's credentials; the link's agent is the token's worker. Flex's
//!   validation does not say which calls a worker is on, so any valid Flex
//!   token of the account opens any call's public cues; the agent's own
//!   nudges still go only to the agent the call named.
//!
//! Why the exchange returns a link rather than opening the stream on the
//! token: the view and its reconnects then work exactly as a softphone's
//! link does, the platform is asked once per view rather than on every
//! reconnect, and the platform's token never travels in a URL.
//!
//! The platform's API is called with a 5 s timeout, and at most
//! [`MAX_IN_FLIGHT`] exchanges run at once (503 past that), so a flood of
//! requests cannot turn this server into a load generator against the
//! platform. The API base URLs are configurable, so tests (and private
//! clouds) point them elsewhere.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

/// Exchanges in flight at most.
pub const MAX_IN_FLIGHT: usize = 16;

/// The platform's API answers within this, or the exchange fails (502).
const API_TIMEOUT: Duration = Duration::from_secs(5);

/// Which desktop vouches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Genesys Cloud (a user's OAuth token).
    Genesys,
    /// Twilio Flex (a Flex JWE token).
    Flex,
}

/// Why a desktop's request was refused, with the status it gets.
#[derive(Debug, thiserror::Error)]
pub enum VouchError {
    /// This server was not configured for that platform.
    #[error("{0} is not configured on this server")]
    NotConfigured(&'static str),
    /// No token, or the platform does not accept it.
    #[error("the platform did not accept the token: {0}")]
    Unauthorized(String),
    /// The platform knows the user, who is not on that call.
    #[error("user {user} is not a participant of conversation {call}")]
    NotOnCall {
        /// The platform's user id.
        user: String,
        /// The call asked for.
        call: String,
    },
    /// The request itself is unusable.
    #[error("{0}")]
    BadRequest(String),
    /// The platform's API could not be asked, or answered nonsense.
    #[error("the platform's API: {0}")]
    Unreachable(String),
    /// Too many exchanges at once.
    #[error("too many link requests at once; try again")]
    Busy,
}

impl VouchError {
    /// The HTTP status the desktop gets.
    pub fn status(&self) -> u16 {
        match self {
            VouchError::NotConfigured(_) => 404,
            VouchError::Unauthorized(_) => 401,
            VouchError::NotOnCall { .. } => 403,
            VouchError::BadRequest(_) => 400,
            VouchError::Unreachable(_) => 502,
            VouchError::Busy => 503,
        }
    }
}

/// Twilio account credentials for Flex token validation.
#[derive(Clone)]
pub struct FlexAccount {
    /// The account SID (`AC…`).
    pub sid: String,
    /// The account's auth token.
    pub auth_token: String,
    /// Twilio IAM's base URL.
    pub api: String,
}

impl std::fmt::Debug for FlexAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FlexAccount({}, ..)", self.sid)
    }
}

/// The configured desktops and one HTTP client for their APIs.
pub struct Desktops {
    client: reqwest::Client,
    genesys_api: Option<String>,
    flex: Option<FlexAccount>,
    slots: Semaphore,
}

/// A Genesys conversation id as the API takes it in a path: letters,
/// digits and `-` (they are UUIDs), so nothing can walk the API's paths.
fn is_conversation_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl Desktops {
    /// From the configured API bases and credentials.
    pub fn new(
        genesys_api: Option<String>,
        flex: Option<FlexAccount>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(API_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            genesys_api: genesys_api.map(|u| u.trim_end_matches('/').to_string()),
            flex: flex.map(|mut f| {
                f.api = f.api.trim_end_matches('/').to_string();
                f
            }),
            slots: Semaphore::new(MAX_IN_FLIGHT),
        })
    }

    /// Whether any desktop is configured (the route answers 404 otherwise).
    pub fn any(&self) -> bool {
        self.genesys_api.is_some() || self.flex.is_some()
    }

    /// The agent `platform` vouches for with `token`, for call `call`.
    pub async fn vouch(
        &self,
        platform: Platform,
        token: &str,
        call: &str,
    ) -> Result<String, VouchError> {
        if token.is_empty() {
            return Err(VouchError::Unauthorized("no bearer token".into()));
        }
        let _slot = self.slots.try_acquire().map_err(|_| VouchError::Busy)?;
        match platform {
            Platform::Genesys => self.genesys(token, call).await,
            Platform::Flex => self.flex(token).await,
        }
    }

    async fn get_json(&self, url: &str, token: &str) -> Result<(u16, Value), VouchError> {
        let r = self
            .client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| VouchError::Unreachable(e.without_url().to_string()))?;
        let status = r.status().as_u16();
        let body = r.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn genesys(&self, token: &str, call: &str) -> Result<String, VouchError> {
        let base = self
            .genesys_api
            .as_deref()
            .ok_or(VouchError::NotConfigured("Genesys Cloud (genesys_api)"))?;
        if !is_conversation_id(call) {
            return Err(VouchError::BadRequest(format!(
                "a Genesys conversation id is letters, digits and '-', got {call:?}"
            )));
        }
        let (status, me) = self
            .get_json(&format!("{base}/api/v2/users/me"), token)
            .await?;
        match status {
            200 => {}
            401 | 403 => {
                return Err(VouchError::Unauthorized(format!(
                    "users/me answered {status}"
                )))
            }
            s => return Err(VouchError::Unreachable(format!("users/me answered {s}"))),
        }
        let Some(user) = me["id"].as_str().filter(|u| !u.is_empty()) else {
            return Err(VouchError::Unreachable("users/me named no id".into()));
        };
        let (status, conv) = self
            .get_json(&format!("{base}/api/v2/conversations/{call}"), token)
            .await?;
        let not_on = || VouchError::NotOnCall {
            user: user.to_string(),
            call: call.to_string(),
        };
        match status {
            200 => {}
            401 => {
                return Err(VouchError::Unauthorized(
                    "conversations answered 401".into(),
                ))
            }
            403 | 404 => return Err(not_on()),
            s => {
                return Err(VouchError::Unreachable(format!(
                    "conversations answered {s}"
                )))
            }
        }
        let on_call = conv["participants"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["userId"].as_str() == Some(user)));
        if on_call {
            Ok(user.to_string())
        } else {
            Err(not_on())
        }
    }

    async fn flex(&self, token: &str) -> Result<String, VouchError> {
        let acct = self
            .flex
            .as_ref()
            .ok_or(VouchError::NotConfigured("Twilio Flex (flex_account_sid)"))?;
        let url = format!("{}/v1/Accounts/{}/Tokens/validate", acct.api, acct.sid);
        let r = self
            .client
            .post(&url)
            .basic_auth(&acct.sid, Some(&acct.auth_token))
            .json(&serde_json::json!({ "token": token }))
            .send()
            .await
            .map_err(|e| VouchError::Unreachable(e.without_url().to_string()))?;
        let status = r.status().as_u16();
        let body = r.json::<Value>().await.unwrap_or(Value::Null);
        if status != 200 {
            // Twilio refusing our account's credentials is our fault, not the agent's.
            return Err(VouchError::Unreachable(format!(
                "Tokens/validate answered {status}"
            )));
        }
        if body["valid"] != Value::Bool(true) {
            return Err(VouchError::Unauthorized(
                body["message"]
                    .as_str()
                    .unwrap_or("Flex token not valid")
                    .to_string(),
            ));
        }
        ["worker_sid", "identity", "realm_user_id"]
            .iter()
            .find_map(|k| body[*k].as_str().filter(|s| !s.is_empty()))
            .map(str::to_string)
            .ok_or_else(|| VouchError::Unreachable("a valid token that names no worker".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_ids_cannot_walk_the_apis_paths() {
        assert!(is_conversation_id("2a7c5d2e-7b1f-4a59-9e07-6c2f1d0b3a11"));
        for bad in ["", "../users/me", "a/b", "a?b", "a%2Fb", &"a".repeat(65)] {
            assert!(!is_conversation_id(bad), "{bad}");
        }
    }

    #[test]
    fn each_refusal_has_its_status() {
        assert_eq!(VouchError::Unauthorized("x".into()).status(), 401);
        assert_eq!(
            VouchError::NotOnCall {
                user: "u".into(),
                call: "c".into()
            }
            .status(),
            403
        );
        assert_eq!(VouchError::Busy.status(), 503);
        assert_eq!(VouchError::Unreachable("x".into()).status(), 502);
    }
}
