//! Usage recording off the request path: finished requests queue here, and one thread records
//! them in batches (one transaction and one durable commit per batch of up to 1,000 records of
//! a key), so a request never waits for an fsync and the store's batch throughput is used.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread::JoinHandle;

use modelgates::{Caller, KeyId, ModelGates, NewUsage, VerifiedKey};

/// Records per batch at most: the library's batch limit.
const BATCH_MAX: usize = 1000;

/// A queued record and the key of the request it accounts for (recorded as the key's user,
/// through the key).
struct Job {
    key: VerifiedKey,
    usage: NewUsage,
}

/// The sending side; cheap to clone. Dropping every clone ends the recording thread once it
/// has recorded what was queued.
#[derive(Clone, Debug)]
pub struct Recorder {
    /// Boxed, so the channel's slots stay small.
    tx: mpsc::Sender<Box<Job>>,
}

impl Recorder {
    /// Starts the recording thread over `gates`; join the handle after dropping every
    /// `Recorder` to wait until everything queued is recorded.
    pub fn start(gates: ModelGates) -> std::io::Result<(Self, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel::<Box<Job>>();
        let handle = std::thread::Builder::new()
            .name("usage-recorder".into())
            .spawn(move || run(&gates, &rx))?;
        Ok((Self { tx }, handle))
    }

    /// Queues `usage` of a request `key` sent, to be recorded as the key's user through the
    /// key.
    pub fn record(&self, key: &VerifiedKey, usage: NewUsage) {
        let request_id = usage.request_id.clone();
        let job = Job {
            key: key.clone(),
            usage,
        };
        if self.tx.send(Box::new(job)).is_err() {
            tracing::error!(%request_id, "the usage recorder has stopped; usage not recorded");
        }
    }
}

fn run(gates: &ModelGates, rx: &mpsc::Receiver<Box<Job>>) {
    while let Ok(first) = rx.recv() {
        // Everything queued meanwhile joins the batch.
        let mut jobs = vec![first];
        while jobs.len() < BATCH_MAX * 8 {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut by_key: BTreeMap<KeyId, (Caller, Vec<NewUsage>)> = BTreeMap::new();
        for job in jobs {
            let Job { key, usage } = *job;
            by_key
                .entry(key.key_id)
                .or_insert_with(|| {
                    let caller = Caller::new(key.account, key.user_id).with_key(key.key_id);
                    (caller, Vec::new())
                })
                .1
                .push(usage);
        }
        for (key, (caller, records)) in by_key {
            for batch in records.chunks(BATCH_MAX) {
                record_batch(gates, &caller, key, batch);
            }
        }
    }
}

/// Records `batch` in one transaction; when that fails (a batch is all or nothing), records
/// each on its own so one bad record costs only itself.
fn record_batch(gates: &ModelGates, caller: &Caller, key: KeyId, batch: &[NewUsage]) {
    match gates.usage_record_batch(caller, batch) {
        Ok(recorded) => {
            tracing::debug!(%key, records = recorded.len(), "usage recorded");
        }
        Err(e) if batch.len() > 1 => {
            tracing::warn!(%key, error = %e, "a usage batch failed; recording its records one by one");
            for usage in batch {
                record_batch(gates, caller, key, std::slice::from_ref(usage));
            }
        }
        Err(e) => {
            tracing::error!(%key, request_id = %batch[0].request_id, error = %e, "usage not recorded");
        }
    }
}
