//! Every shape of the STATE this connector saves, in both directions: what a stream's STATE messages carry,
//! and how the state `read --state` is given comes back in.
//!
//! - [`input`]: the input state file, in every form Airbyte clients send, reduced to one state per stream;
//! - [`checkpoint`]: a stream's page checkpoint and completion marker (a full refresh, or the full read of a
//!   stream synced incrementally), and the [`Resume`](checkpoint::Resume) point read back from one;
//! - [`cursor`]: the incremental cursor state, and how an input state starts a stream's next incremental
//!   sync ([`Start`](cursor::Start)).

pub mod checkpoint;
pub mod cursor;
pub mod input;

pub use self::input::{InputState, ParsedState, parse};
