-- Where each account logged in successfully lately. Failed log-ins are limited
-- per account and client together (strictly) and per account (softly); a known
-- client is exempt from the account-wide limit, so nobody can lock the owner out
-- of their own account from elsewhere by failing its password.
CREATE TABLE login_known_clients (
    email           text NOT NULL,
    address         text NOT NULL,
    last_success_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (email, address)
);

-- The strict counter: an account and a client address together ('pair', "email address").
ALTER TABLE login_throttle DROP CONSTRAINT login_throttle_scope_check;
ALTER TABLE login_throttle ADD CONSTRAINT login_throttle_scope_check CHECK (scope IN ('pair', 'account', 'address'));
