-- Users: the account every other table hangs off. Identities (provider,
-- subject), sessions and profiles arrive with the identity migrations;
-- a user is found by an identity, never by email alone.

CREATE TABLE users (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	email		text CHECK (email IS NULL OR char_length(email) <= 320),
	email_verified	boolean NOT NULL DEFAULT false,
	is_admin	boolean NOT NULL DEFAULT false,
	status		text NOT NULL DEFAULT 'active'
			CHECK (status IN ('active', 'deleted')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	deleted_at	timestamptz,
	CHECK ((status = 'deleted') = (deleted_at IS NOT NULL))
);

CREATE INDEX users_email_idx ON users (lower(email)) WHERE email IS NOT NULL;
