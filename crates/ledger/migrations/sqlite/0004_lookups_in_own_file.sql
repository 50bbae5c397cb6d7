-- The lookup tables move to a file of their own beside the ledger (`ledger.db-lookups`):
-- filling them took the ledger's write lock for tens of milliseconds every few thousand
-- entries, and every append waited meanwhile. In their own file they take only its lock. They
-- repeat what the entries hold, and are rebuilt there from them.
DROP TABLE entry_hashes;
DROP TABLE stream_versions;
DROP TABLE lookup_state;
