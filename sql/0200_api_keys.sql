-- API keys (CONTRACT §4, §7). Only the public id and a keyed BLAKE2b-256
-- digest of the whole key are stored; the secret never is.

CREATE TABLE api_keys (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id			uuid NOT NULL REFERENCES users (id),
	public_id		text NOT NULL UNIQUE
				CHECK (public_id ~ '^[0-9A-Za-z]{12}$'),
	digest			bytea NOT NULL CHECK (length(digest) = 32),
	name			text NOT NULL
				CHECK (char_length(name) BETWEEN 1 AND 100),
	last4			text NOT NULL CHECK (char_length(last4) = 4),
	allowed_models		text[] NOT NULL DEFAULT '{}',
	spend_limit_micros	bigint CHECK (spend_limit_micros >= 0),
	spent_micros		bigint NOT NULL DEFAULT 0
				CHECK (spent_micros >= 0),
	disabled		boolean NOT NULL DEFAULT false,
	created_at		timestamptz NOT NULL DEFAULT now(),
	expires_at		timestamptz,
	revoked_at		timestamptz,
	last_used_at		timestamptz
);

CREATE INDEX api_keys_user ON api_keys (user_id, created_at DESC);
