//! The real world behind the engine's ambient ports: the system clock, random v4 ids and a
//! thread-local random generator for jitter.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use memlink_actors::ports::{Ambient, Clock, Entropy, IdSource};
use uuid::Uuid;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub struct RandomIds;

impl IdSource for RandomIds {
    fn new_id(&self) -> Uuid {
        Uuid::new_v4()
    }
}

pub struct ThreadEntropy;

impl Entropy for ThreadEntropy {
    fn unit(&self) -> f64 {
        rand::random::<f64>()
    }
}

pub fn ambient() -> Ambient {
    Ambient {
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        entropy: Arc::new(ThreadEntropy),
    }
}
