"""Optuna's one owner: the only code that opens study storages (calibration and the RFT search use it).

- `urls`: a storage URL redacted for records, its identity, a study's key (storage + name);
- `storage`: engine options (sqlite pragmas, PostgreSQL pool), opening a storage with the one retry loop;
- `study`: creating or loading a study, counting, storing and re-reading its trials;
- `leases`: the lease table beside Optuna's (one owner per critical section, across workers);
- `workers`: a process's worker slot on a study, held as a lease;
- `plots`: the study's plots as PNG files.
"""
