//! shoutcue-live: the agent's desk. Sound-device capture ([`capture`]; the
//! cpal parts behind the `capture` feature) and the agent's overlay page
//! ([`overlay`]), both built on `shoutcue-core`'s engine.

pub mod capture;
pub mod overlay;
