"""Accounts: sign-up and its policy, log-in, bearer authentication and API tokens (`users`);
passwords, signed tokens and the signing key (`credentials`); attempt limits (`ratelimit`)."""
