/// Whose voice a channel carries.
///
/// The agent's own voice is private: events about it go to the agent alone
/// (see [`Event::is_private`](crate::Event::is_private)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The caller, heard from the call audio.
    Customer,
    /// The agent, heard from the headset microphone.
    Agent,
}
