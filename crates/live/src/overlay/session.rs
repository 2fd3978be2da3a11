//! One served call: the overlay web server, the feed the analysis writes
//! into, and the publisher thread between them. `replay --serve` and `live`
//! set this up the same way, so it is written once.

use std::sync::Arc;
use std::thread::JoinHandle;

use super::{
    feed_channel, Overlay, OverlayError, OverlayFeed, OverlayOptions, Publisher, PublisherReport,
    FEED_CAPACITY,
};

/// The overlay server and its publisher thread, for one call.
pub struct ServedCall {
    overlay: Arc<Overlay>,
    publisher: JoinHandle<std::io::Result<PublisherReport>>,
}

impl ServedCall {
    /// Starts the server on `opts` and the publisher on its own thread;
    /// returns the feed for the analysis thread (the engine's observer).
    pub fn start(
        opts: OverlayOptions,
        publisher: Publisher,
    ) -> Result<(Self, OverlayFeed), OverlayError> {
        let overlay = Arc::new(Overlay::start(opts)?);
        let (feed, rx) = feed_channel(FEED_CAPACITY);
        let publisher = publisher.with_overlay(overlay.clone());
        let publisher = std::thread::Builder::new()
            .name("shoutcue-publisher".into())
            .spawn(move || publisher.run(rx))
            .map_err(OverlayError::Publisher)?;
        Ok((Self { overlay, publisher }, feed))
    }

    /// The server, for its URL and the agent's marks.
    pub fn overlay(&self) -> &Arc<Overlay> {
        &self.overlay
    }

    /// Waits for the publisher to drain the feed (the feed must be dropped
    /// or ended first) and returns what it saw. The server keeps serving
    /// while the returned [`Overlay`] lives.
    pub fn join(self) -> Result<(Arc<Overlay>, PublisherReport), OverlayError> {
        let report = self
            .publisher
            .join()
            .map_err(|_| OverlayError::Publisher(std::io::Error::other("panicked")))?
            .map_err(OverlayError::Publisher)?;
        Ok((self.overlay, report))
    }
}
