//! MongoDB: users and events.
