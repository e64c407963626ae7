//! A live run's sessions as rows of the simulator's `sessions.parquet`
//! schema. Ground truth (who the client, entry and exit were) is the
//! driver's own knowledge of its nodes; nobody attacks a live run, so the
//! adversary's columns say nothing was linked and nothing was measured.

use peer2prompt_sim::record::SessionRecord;
use peer2prompt_sim::sessions::SessionBook;

/// The book's sessions as dataset rows (point 0, replicate 0).
pub fn session_records(book: &SessionBook) -> Vec<SessionRecord> {
    book.rows
        .iter()
        .map(|r| SessionRecord {
            point: 0,
            replicate: 0,
            session_id: r.id,
            client: r.client,
            entry: r.entry,
            exit: r.exit,
            exit_kind: r.exit_kind.name().to_owned(),
            hops: r.hops,
            entry_adversarial: false,
            exit_adversarial: false,
            ends_compromised: false,
            linked: false,
            link_guess: None,
            link_guess_correct: false,
            link_score: None,
            turns: r.turns,
            prompt_tokens: r.prompt_tokens,
            output_tokens: r.output_tokens,
            started_ns: r.started.as_nanos(),
            first_token_ns: r.first_token.map(|t| t.as_nanos()),
            completed_ns: r.completed.map(|t| t.as_nanos()),
            outcome: r.outcome.clone(),
            mint_candidates: None,
            mint_entropy_bits: None,
            mint_linked: None,
            observer_linked: None,
            linked_any: false,
            system: "peer2prompt".into(),
            operator_linked: None,
            operator_candidates: None,
        })
        .collect()
}
