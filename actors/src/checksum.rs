//! Watermark checksums: the XOR of SHA-256(message id as lowercase hyphenated text) over a
//! chat's processed messages.
//!
//! XOR makes the checksum order-independent and lets a fold add messages incrementally;
//! exactness under redelivery comes from the store counting each message once. Pure: never
//! touches storage.

use sha2::{Digest, Sha256};

use crate::domain::MessageId;

/// 32 bytes, printed as 64 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    pub const ZERO: Checksum = Checksum([0; 32]);

    pub fn of_message(id: MessageId) -> Checksum {
        let digest = Sha256::digest(id.0.hyphenated().to_string().as_bytes());
        Checksum(digest.into())
    }

    #[must_use]
    pub fn xor(self, other: Checksum) -> Checksum {
        let mut out = self.0;
        for (o, b) in out.iter_mut().zip(other.0) {
            *o ^= b;
        }
        Checksum(out)
    }

    /// Folds messages into an existing checksum.
    pub fn fold(self, ids: impl IntoIterator<Item = MessageId>) -> Checksum {
        ids.into_iter()
            .fold(self, |acc, id| acc.xor(Checksum::of_message(id)))
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Checksum> {
        <[u8; 32]>::try_from(bytes).ok().map(Checksum)
    }

    pub fn to_hex(self) -> String {
        use std::fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    #[test]
    fn known_vector() {
        // sha256("00000000-0000-0000-0000-000000000000")
        let id = MessageId(Uuid::nil());
        assert_eq!(
            Checksum::of_message(id).to_hex(),
            "12b9377cbe7e5c94e8a70d9d23929523d14afa954793130f8a3959c7b849aca8"
        );
        assert_eq!(Checksum::ZERO.to_hex(), "0".repeat(64));
    }

    proptest! {
        #[test]
        fn order_independent_and_self_inverse(ids in proptest::collection::vec(any::<u128>(), 0..20)) {
            let ids: Vec<MessageId> = ids.into_iter().map(|n| MessageId(Uuid::from_u128(n))).collect();
            let forward = Checksum::ZERO.fold(ids.iter().copied());
            let backward = Checksum::ZERO.fold(ids.iter().rev().copied());
            prop_assert_eq!(forward, backward);
            prop_assert_eq!(forward.fold(ids.iter().copied()), Checksum::ZERO);
            prop_assert_eq!(forward.to_hex().len(), 64);
        }
    }
}
