//! How an event travels on the hub's stream (`GET /v1/stream`): Server-Sent
//! Events, one block per event — `id:` its sequence number (what a
//! reconnecting stream sends back as `Last-Event-ID`), `event:` its name,
//! `data:` the [`HubEvent`] as JSON — ended by a blank line. Comment blocks
//! (`:` lines) keep the connection alive and carry no event.
//!
//! The server writes the three fields of a [`Frame`] (its SSE library lays
//! out the lines and the keep-alives); the desktop reads the bytes back
//! with a [`FrameReader`].

use crate::HubEvent;

/// One event's fields on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub id: String,
    pub event: String,
    /// The event as one line of JSON (serde_json escapes the newlines in
    /// strings, so it never spans lines).
    pub data: String,
}

impl Frame {
    pub fn of(event: &HubEvent) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: event.seq.to_string(),
            event: event.event.clone(),
            data: serde_json::to_string(event)?,
        })
    }

    /// The frame as the stream's bytes, blank line included.
    pub fn to_text(&self) -> String {
        format!("id: {}\nevent: {}\ndata: {}\n\n", self.id, self.event, self.data)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// No end of block within this many bytes: not a stream of events.
    #[error("the team hub sent an event over {0} bytes")]
    TooLarge(usize),
    /// A block whose data is not an event (it is consumed: read on).
    #[error("an event from the team hub could not be read: {0}")]
    Unreadable(#[source] serde_json::Error),
}

/// The events in a stream's bytes, as they arrive in chunks.
#[derive(Debug)]
pub struct FrameReader {
    buffer: Vec<u8>,
    max_event_bytes: usize,
}

impl FrameReader {
    /// A reader that refuses an event (a block) larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            buffer: Vec::new(),
            max_event_bytes,
        }
    }

    /// Adds bytes as they came off the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete event in what was pushed, or `Ok(None)` until
    /// more bytes come. Keep-alive blocks are passed over.
    pub fn next_event(&mut self) -> Result<Option<HubEvent>, FrameError> {
        loop {
            let text = &self.buffer;
            let end = text
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
                .or_else(|| text.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4)));
            let Some((at, skip)) = end else {
                if self.buffer.len() > self.max_event_bytes {
                    return Err(FrameError::TooLarge(self.max_event_bytes));
                }
                return Ok(None);
            };
            let block: Vec<u8> = self.buffer.drain(..at + skip).collect();
            let block = String::from_utf8_lossy(&block[..at]);
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if data.is_empty() {
                // A keep-alive comment.
                continue;
            }
            return serde_json::from_str::<HubEvent>(&data.join("\n"))
                .map(Some)
                .map_err(FrameError::Unreadable);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(seq: i64) -> HubEvent {
        HubEvent {
            seq,
            resource: "call".into(),
            event: "call.created".into(),
            timestamp: 1_700_000_000,
            received_ms: 1_700_000_000_500,
            data: json!({"id": seq, "note": "two\nlines"}),
        }
    }

    fn read_all(reader: &mut FrameReader) -> Vec<HubEvent> {
        std::iter::from_fn(|| reader.next_event().unwrap()).collect()
    }

    #[test]
    fn an_event_written_as_a_frame_reads_back_the_same() {
        let frame = Frame::of(&event(7)).unwrap();
        assert_eq!(frame.id, "7");
        assert_eq!(frame.event, "call.created");
        assert!(!frame.data.contains('\n'), "one data line");
        let mut reader = FrameReader::new(1024);
        reader.push(frame.to_text().as_bytes());
        assert_eq!(read_all(&mut reader), vec![event(7)]);
    }

    #[test]
    fn events_split_across_chunks_and_keep_alives_between_them_are_read_in_order() {
        let text = format!(
            ":\n\n{}: keep-alive\n\n{}",
            Frame::of(&event(1)).unwrap().to_text(),
            Frame::of(&event(2)).unwrap().to_text()
        );
        let mut reader = FrameReader::new(1024);
        let mut seen = Vec::new();
        for chunk in text.as_bytes().chunks(7) {
            reader.push(chunk);
            seen.extend(read_all(&mut reader));
        }
        assert_eq!(seen, vec![event(1), event(2)]);
    }

    #[test]
    fn blocks_ended_with_crlf_and_data_without_a_space_are_read() {
        let data = serde_json::to_string(&event(3)).unwrap();
        let mut reader = FrameReader::new(1024);
        reader.push(format!("id: 3\r\ndata:{data}\r\n\r\n").as_bytes());
        assert_eq!(read_all(&mut reader), vec![event(3)]);
    }

    #[test]
    fn an_unreadable_event_is_reported_and_the_next_one_still_read() {
        let mut reader = FrameReader::new(1024);
        reader.push(b"data: {\"not\": \"an event\"}\n\n");
        reader.push(Frame::of(&event(4)).unwrap().to_text().as_bytes());
        assert!(matches!(reader.next_event(), Err(FrameError::Unreadable(_))));
        assert_eq!(reader.next_event().unwrap(), Some(event(4)));
    }

    #[test]
    fn an_endless_block_is_too_large() {
        let mut reader = FrameReader::new(16);
        reader.push(b"data: 0123456789abcdef");
        assert!(matches!(reader.next_event(), Err(FrameError::TooLarge(16))));
    }
}
