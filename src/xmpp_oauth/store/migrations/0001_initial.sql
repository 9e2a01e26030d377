-- Schema version 1: every table the Store protocol needs.
-- Shared by SQLite and PostgreSQL; {REAL}, {BIGINT} and {BLOB} are replaced per dialect.
-- Never edit this file once released: add a new numbered migration instead.

CREATE TABLE accounts (
    jid TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    scram_sha1 TEXT NOT NULL,
    scram_sha256 TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at {REAL} NOT NULL,
    password_changed_at {REAL} NOT NULL
);

CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY,
    jid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at {REAL} NOT NULL,
    last_used_at {REAL} NOT NULL,
    revoked_at {REAL},
    revoke_reason TEXT NOT NULL DEFAULT '',
    auth_time {REAL} NOT NULL DEFAULT 0
);
CREATE INDEX grants_by_jid ON grants (jid, created_at, grant_id);
CREATE INDEX grants_by_client ON grants (client_id);
CREATE INDEX grants_by_last_use ON grants (last_used_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at {REAL} NOT NULL,
    expires_at {REAL} NOT NULL,
    consumed_at {REAL}
);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

-- One row per revoked grant; seq grows with every revoking transaction (commit order).
CREATE TABLE revocations (
    grant_id TEXT PRIMARY KEY,
    seq {BIGINT} NOT NULL,
    revoked_at {REAL} NOT NULL
);
CREATE INDEX revocations_by_seq ON revocations (seq);
CREATE INDEX revocations_by_time ON revocations (revoked_at);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value {BIGINT} NOT NULL
);
INSERT INTO counters (name, value) VALUES ('revocation', 0);

CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    client_name TEXT NOT NULL,
    jid TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    nonce TEXT NOT NULL,
    auth_time {REAL} NOT NULL,
    created_at {REAL} NOT NULL,
    expires_at {REAL} NOT NULL,
    used_at {REAL},
    grant_id TEXT,
    extra TEXT NOT NULL
);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    client_name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at {REAL} NOT NULL,
    expires_at {REAL} NOT NULL,
    poll_interval INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_polled_at {REAL} NOT NULL,
    jid TEXT NOT NULL,
    auth_time {REAL} NOT NULL,
    grant_id TEXT
);
CREATE INDEX device_codes_by_expiry ON device_codes (expires_at);

CREATE TABLE consents (
    jid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    granted_at {REAL} NOT NULL,
    PRIMARY KEY (jid, client_id)
);

CREATE TABLE login_sessions (
    session_hash TEXT PRIMARY KEY,
    jid TEXT NOT NULL,
    auth_time {REAL} NOT NULL,
    created_at {REAL} NOT NULL,
    expires_at {REAL} NOT NULL,
    amr TEXT NOT NULL
);
CREATE INDEX login_sessions_by_jid ON login_sessions (jid);
CREATE INDEX login_sessions_by_expiry ON login_sessions (expires_at);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_pem {BLOB} NOT NULL,
    created_at {REAL} NOT NULL,
    retired_at {REAL}
);

CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    client_secret_hash TEXT,
    metadata TEXT NOT NULL,
    created_at {REAL} NOT NULL
);

CREATE TABLE revoked_clients (
    client_id TEXT PRIMARY KEY,
    revoked_at {REAL} NOT NULL
);

CREATE TABLE login_failures (
    failure_key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start {REAL} NOT NULL,
    expires_at {REAL} NOT NULL
);
CREATE INDEX login_failures_by_expiry ON login_failures (expires_at);
