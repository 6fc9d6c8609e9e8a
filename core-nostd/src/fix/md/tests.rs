//! Market-data session tests (need the session layer).
