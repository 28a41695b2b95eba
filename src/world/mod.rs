//! The simulated world (in progress).
