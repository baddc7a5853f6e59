//! Domain types: validated ids, roles, text and the `message.created` event.
//!
//! Every value here is valid by construction. Code that holds a [`MessageCreated`] can rely on
//! UUID ids, a bounded NUL-free text and an exact instant; it must never re-validate, and this
//! module must never accept a value it cannot prove valid (that is [`crate::decode`]'s job to
//! report, with a reason).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// The most bytes of UTF-8 a message's content may have, at every boundary (HTTP, outbox,
/// stream).
pub const MAX_CONTENT_BYTES: usize = 65_536;
/// The most bytes a user id may have.
pub const MAX_USER_ID_BYTES: usize = 256;

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_newtype!(
    /// A chat (conversation); the outbox's `aggregate_id`.
    ChatId
);
uuid_newtype!(
    /// One chat message.
    MessageId
);
uuid_newtype!(
    /// One event: the outbox row id, carried as the stream entry's `event_id`.
    EventId
);

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
    System,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "system" => Some(Role::System),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        }
    }
}

/// Why a piece of text is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLong { limit: usize },
    ContainsNul,
    ControlCharacter,
}

/// A user id: non-empty, at most [`MAX_USER_ID_BYTES`], no NUL or other control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn try_new(s: &str) -> Result<UserId, TextError> {
        if s.trim().is_empty() {
            return Err(TextError::Empty);
        }
        if s.len() > MAX_USER_ID_BYTES {
            return Err(TextError::TooLong {
                limit: MAX_USER_ID_BYTES,
            });
        }
        if s.chars().any(char::is_control) {
            return Err(TextError::ControlCharacter);
        }
        Ok(UserId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message's content: non-empty, at most [`MAX_CONTENT_BYTES`] of UTF-8, no NUL (Postgres
/// `text` cannot hold one, and it is never meaningful chat content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Content(String);

impl Content {
    pub fn try_new(s: &str) -> Result<Content, TextError> {
        if s.trim().is_empty() {
            return Err(TextError::Empty);
        }
        if s.len() > MAX_CONTENT_BYTES {
            return Err(TextError::TooLong {
                limit: MAX_CONTENT_BYTES,
            });
        }
        if s.contains('\0') {
            return Err(TextError::ContainsNul);
        }
        Ok(Content(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The event types memlink understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    MessageCreated,
}

impl EventType {
    pub const MESSAGE_CREATED: &'static str = "message.created";

    pub fn parse(s: &str) -> Option<EventType> {
        match s {
            Self::MESSAGE_CREATED => Some(EventType::MessageCreated),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageCreated => Self::MESSAGE_CREATED,
        }
    }
}

/// A chat message was stored by a producer. Fully decoded and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageCreated {
    pub event_id: EventId,
    pub message_id: MessageId,
    pub chat_id: ChatId,
    pub user_id: UserId,
    pub role: Role,
    pub content: Content,
    /// Exact instant, microsecond precision (what Postgres keeps).
    pub created_at: DateTime<Utc>,
}

/// Any event memlink processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    MessageCreated(MessageCreated),
}

impl Event {
    pub fn event_id(&self) -> EventId {
        match self {
            Event::MessageCreated(m) => m.event_id,
        }
    }

    pub fn event_type(&self) -> EventType {
        match self {
            Event::MessageCreated(_) => EventType::MessageCreated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_limit_is_bytes_of_utf8() {
        let at_limit = "é".repeat(MAX_CONTENT_BYTES / 2);
        assert!(Content::try_new(&at_limit).is_ok());
        let over = format!("{at_limit}a");
        assert_eq!(
            Content::try_new(&over),
            Err(TextError::TooLong {
                limit: MAX_CONTENT_BYTES
            })
        );
    }

    #[test]
    fn content_rejects_nul_and_blank() {
        assert_eq!(Content::try_new("a\0b"), Err(TextError::ContainsNul));
        assert_eq!(Content::try_new("  \n"), Err(TextError::Empty));
        assert!(Content::try_new("مرحبا 👋").is_ok());
    }

    #[test]
    fn user_id_rules() {
        assert!(UserId::try_new("u-1").is_ok());
        assert_eq!(UserId::try_new(""), Err(TextError::Empty));
        assert_eq!(UserId::try_new("a\u{7}"), Err(TextError::ControlCharacter));
        assert!(UserId::try_new(&"x".repeat(257)).is_err());
    }

    #[test]
    fn role_round_trips() {
        for r in [Role::User, Role::Assistant, Role::System] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
