"""Who may do what: keys, the installation's secrets, NATS identities, people's credentials.

- `keys`: Ed25519 keys in the NATS nkeys encoding (seeds `S...`, public keys `U...`/`A...`).
- `secrets`: where this installation's secrets live (0700 directory, 0600 files).
"""
