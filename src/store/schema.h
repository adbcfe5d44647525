#pragma once
// The results database's schema, versioned by PRAGMA user_version. Each
// migration moves the schema one version forward inside one transaction, so a
// database is always at a version the code knows.
#include "store/database.h"

namespace hybridize::store {

inline constexpr int kSchemaVersion = 3;

// The schema version `database` is at (0: a new, empty file). Refuses, naming
// the file, a version newer than kSchemaVersion.
int known_schema_version(Database& database);

// Brings `database` to kSchemaVersion. Refuses, naming the file, a database
// written by a newer hybridize (a higher user_version).
void migrate(Database& database);

}  // namespace hybridize::store
