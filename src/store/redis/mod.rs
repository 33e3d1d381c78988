//! Redis: seats, purchase records, locks, idempotency keys and the payment ledger.
