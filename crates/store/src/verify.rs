//! Verifies the whole consent ledger: every chain event by event, the stored heads, and every
//! checkpoint. Streams each chain, so memory stays flat however long the ledger is.

use std::collections::HashMap;

use custodian_core::ledger::{self, Break, ChainVerifier, CHAINS};
use futures_util::TryStreamExt;
use serde::Serialize;

use crate::{Result, Store};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub events_checked: u64,
    pub chains: u16,
    pub checkpoints_checked: usize,
    /// The first break found, if any; verification stops there.
    pub first_break: Option<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.first_break.is_none()
    }
}

impl Store {
    /// Walks every chain and checkpoint. `progress` is called after each chain. One function
    /// on purpose: each early return stops at the first break, and the walk reads top to
    /// bottom as the order of the checks.
    pub async fn verify_ledger(&self, mut progress: impl FnMut(u16, u64)) -> Result<Report> {
        let checkpoints = self.checkpoints().await?;
        let stored_heads: HashMap<u16, (i64, String)> = self
            .ledger_heads()
            .await?
            .into_iter()
            .map(|(c, s, h)| (c, (s, h)))
            .collect();
        let mut report = Report {
            events_checked: 0,
            chains: CHAINS,
            checkpoints_checked: 0,
            first_break: None,
        };

        // The hashes checkpoints say each chain had at given positions.
        let mut wanted: HashMap<(u16, i64), Vec<(i64, String)>> = HashMap::new();
        for cp in &checkpoints {
            if ledger::heads_digest(&cp.heads) != cp.digest {
                report.first_break =
                    Some(Break::CheckpointDigest { checkpoint: cp.id }.to_string());
                return Ok(report);
            }
            for (chain, seq, hash) in &cp.heads {
                if *seq > 0 {
                    wanted
                        .entry((*chain, *seq))
                        .or_default()
                        .push((cp.id, hash.clone()));
                }
            }
        }

        for chain in 0..CHAINS {
            let mut v = ChainVerifier::new(chain);
            let mut events = self.chain_events(chain);
            while let Some(e) = events.try_next().await? {
                if let Err(b) = v.push(&e) {
                    report.first_break = Some(b.to_string());
                    return Ok(report);
                }
                if let Some(claims) = wanted.remove(&(chain, e.link.seq)) {
                    if let Some((cp, hash)) = claims.into_iter().find(|(_, h)| *h != e.link.hash) {
                        report.first_break = Some(
                            Break::Checkpoint {
                                checkpoint: cp,
                                chain,
                                seq: e.link.seq,
                                hash,
                            }
                            .to_string(),
                        );
                        return Ok(report);
                    }
                }
            }
            report.events_checked += v.checked;
            let (seq, hash) = v.head();
            if let Some((s, h)) = stored_heads.get(&chain) {
                if *s != seq || h != hash {
                    report.first_break = Some(format!(
                        "chain {chain}: the stored head is event {s} but the chain ends at event {seq} (events removed or the head edited)"
                    ));
                    return Ok(report);
                }
            }
            progress(chain, report.events_checked);
        }
        // Any claim left names an event no chain holds any more: the tail was cut.
        if let Some(((chain, seq), claims)) = wanted.into_iter().min_by_key(|((c, s), _)| (*c, *s))
        {
            let (cp, hash) = claims.into_iter().next().expect("non-empty");
            report.first_break = Some(
                Break::Checkpoint {
                    checkpoint: cp,
                    chain,
                    seq,
                    hash,
                }
                .to_string(),
            );
            return Ok(report);
        }
        report.checkpoints_checked = checkpoints.len();
        Ok(report)
    }
}
