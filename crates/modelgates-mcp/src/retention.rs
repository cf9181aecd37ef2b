//! Retention, run in the background by every serving process (`modelgates serve` and `mcp`,
//! and programs that embed the front ends, such as the gateway example).

use modelgates::ModelGates;

/// Retention in the background: every minute, expired raw usage records, the usage of deleted
/// busy workspaces, audit events past their account's retention and idempotency records older
/// than a day are removed in bounded transactions (at most 10,000 rows each), so a serving
/// process never holds the writer for long.
pub fn spawn_retention(gates: ModelGates) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let g = gates.clone();
            let result = tokio::task::spawn_blocking(move || {
                let (mut removed, mut purged) = (0, 0);
                loop {
                    let out = g.usage_expire(10_000)?;
                    removed += out.removed;
                    purged += out.purged;
                    if !out.more {
                        break;
                    }
                }
                loop {
                    let (audit, more) = g.audit_expire(1_000)?;
                    if audit > 0 {
                        tracing::info!(removed = audit, "audit retention removed expired events");
                    }
                    if !more {
                        break;
                    }
                }
                loop {
                    let (records, more) = g.idempotency_expire(1_000)?;
                    if records > 0 {
                        tracing::debug!(removed = records, "expired idempotency records removed");
                    }
                    if !more {
                        return Ok::<(u64, u64), modelgates::Error>((removed, purged));
                    }
                }
            })
            .await;
            match result {
                Ok(Ok((0, 0))) => {}
                Ok(Ok((removed, purged))) => tracing::info!(
                    removed,
                    purged,
                    "usage retention removed expired records and deleted workspaces' usage"
                ),
                Ok(Err(e)) => tracing::warn!("usage retention failed: {e}"),
                Err(e) => tracing::warn!("usage retention task failed: {e}"),
            }
        }
    });
}
